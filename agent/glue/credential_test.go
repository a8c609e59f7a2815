package glue_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/glue"
	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
)

// A code shown twice is refused as REPLAYED with the counters in the
// journal, the core's store: the journal's agent.ErrReplayed reaches the
// verifier as its own ErrReplayed, and the core as a rejection.
func TestReplayInTheJournalIsTheKiosksRejection(t *testing.T) {
	ctx := context.Background()
	tl, phone := phoneWorld(t, credential.Ed25519)
	j := journaltest.MustOpen(t)
	v, err := credential.NewVerifier(tl, glue.Counters{Store: j}, clock.NewFake(benchNow), credential.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	text, err := phone.Code(benchNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := glue.Verifier{V: v}.Verify(ctx, text)
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial != credential.Serial(42).String() || got.Counter != 1 || got.Region != "441900" {
		t.Fatalf("verified %+v", got)
	}
	_, err = glue.Verifier{V: v}.Verify(ctx, text)
	var rej *agent.CodeRejection
	if !errors.As(err, &rej) || rej.Reason != credential.ErrReplayed.Reason || rej.ZH == "" {
		t.Fatalf("the same code again: %v, want a REPLAYED rejection", err)
	}
}

// failing is a core counter store that cannot write.
type failing struct{ err error }

func (f failing) Advance(context.Context, string, uint64) error { return f.err }

func TestCounterStoreFailureStaysTheTerminals(t *testing.T) {
	diskFull := errors.New("disk full")
	if err := (glue.Counters{Store: failing{diskFull}}).Advance(context.Background(), "s", 1); err != diskFull {
		t.Fatalf("Advance = %v, want the store's own error as it is", err)
	}
	tl, phone := phoneWorld(t, credential.Ed25519)
	v, err := credential.NewVerifier(tl, glue.Counters{Store: failing{diskFull}}, clock.NewFake(benchNow), credential.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	text, _ := phone.Code(benchNow, 1)
	_, err = glue.Verifier{V: v}.Verify(context.Background(), text)
	var rej *agent.CodeRejection
	if !errors.Is(err, diskFull) || errors.As(err, &rej) {
		t.Fatalf("Verify = %v, want the terminal's failure, not a rejection", err)
	}
	replayed := glue.Counters{Store: failing{agent.ErrReplayed}}.Advance(context.Background(), "s", 1)
	if !errors.Is(replayed, credential.ErrReplayed) || !errors.Is(replayed, agent.ErrReplayed) {
		t.Fatalf("a replay in the core's store = %v, want both the verifier's and the core's sentinel", replayed)
	}
}

func TestACodeNotOursIsOpaqueToTheCore(t *testing.T) {
	tl, _ := phoneWorld(t, credential.Ed25519)
	v, err := credential.NewVerifier(tl, glue.Counters{Store: failing{}}, clock.NewFake(benchNow), credential.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (glue.Verifier{V: v}).Verify(context.Background(), "https://example.com/not-a-credential"); !errors.Is(err, agent.ErrOpaqueCode) {
		t.Fatalf("Verify = %v, want agent.ErrOpaqueCode", err)
	}
}

// Every rejection of the verifier has its stable API code, so a HIS or the
// kiosk page can branch on it.
func TestEveryCodeRejectionHasAnAPICode(t *testing.T) {
	codes := agent.RefusalCodes()
	for _, r := range credential.Rejections() {
		code := "CODE_" + strings.TrimPrefix(r.Reason, "CODE_")
		if !slices.Contains(codes, code) {
			t.Errorf("rejection %s has no API code %s in agent.RefusalCodes", r.Reason, code)
		}
		if r.ZH == "" || r.EN == "" {
			t.Errorf("rejection %s does not tell the patient what to do", r.Reason)
		}
	}
}

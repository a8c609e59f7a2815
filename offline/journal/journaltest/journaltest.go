// Package journaltest opens real journals for tests, in the manner of
// bbolt's btesting: a fresh file and key in the test's temporary
// directories, a fake clock, closed when the test ends, and reopened on
// demand to prove that something survived.
package journaltest

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/offline/journal"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// The options MustOpen uses unless told otherwise.
const (
	Institution = "H44010600001"
	Slot        = 7
	IDPrefix    = "TEST01"
)

// Start is the fake clock's time when MustOpen returns.
var Start = time.Date(2026, 3, 2, 9, 30, 0, 0, protocol.CST)

// Journal is an open journal with what a test needs to reopen it.
type Journal struct {
	*journal.Journal
	Path    string
	Options journal.Options
	// Clock is the fake clock in Options, or nil if an option replaced it.
	Clock *clock.Fake
	t     testing.TB
}

// MustOpen opens a new journal in a temporary directory, its key in
// another, with a fake clock; each opt may change the options first. The
// journal is closed when the test ends.
func MustOpen(t testing.TB, opts ...func(*journal.Options)) *Journal {
	t.Helper()
	return MustOpenAt(t, filepath.Join(t.TempDir(), "journal.db"), opts...)
}

// MustOpenAt is MustOpen with the journal file at path, for a test that
// needs it on a particular filesystem. The key stays in a temporary
// directory of its own.
func MustOpenAt(t testing.TB, path string, opts ...func(*journal.Options)) *Journal {
	t.Helper()
	fake := clock.NewFake(Start)
	o := journal.Options{
		KeyFile:     filepath.Join(t.TempDir(), "keys", "journal.key"),
		Institution: Institution,
		Slot:        Slot,
		IDPrefix:    IDPrefix,
		Clock:       fake,
		LockTimeout: 100 * time.Millisecond,
		Logger:      Logger(t),
	}
	for _, opt := range opts {
		opt(&o)
	}
	j := &Journal{Path: path, Options: o, t: t}
	j.Clock, _ = o.Clock.(*clock.Fake)
	j.mustOpen()
	t.Cleanup(func() {
		if j.Journal != nil {
			if err := j.Journal.Close(); err != nil {
				t.Errorf("close journal: %v", err)
			}
		}
	})
	return j
}

func (j *Journal) mustOpen() {
	j.t.Helper()
	db, err := journal.Open(j.Path, j.Options)
	if err != nil {
		j.t.Fatalf("open journal: %v", err)
	}
	j.Journal = db
}

// MustClose closes the journal.
func (j *Journal) MustClose() {
	j.t.Helper()
	if j.Journal == nil {
		return
	}
	err := j.Journal.Close()
	j.Journal = nil
	if err != nil {
		j.t.Fatalf("close journal: %v", err)
	}
}

// MustReopen closes the journal and opens the same file again with the
// same options, as a restarted daemon would.
func (j *Journal) MustReopen() {
	j.t.Helper()
	j.MustClose()
	j.mustOpen()
}

// MustVerify fails the test if the file or its indexes are inconsistent.
func (j *Journal) MustVerify() {
	j.t.Helper()
	if err := j.Verify(context.Background()); err != nil {
		j.t.Fatalf("verify journal: %v", err)
	}
}

// Personal is the patient of Settlement: values a raw scan of the
// journal file must never find in clear.
var Personal = agent.Personal{
	CertNo:    "440101199001011234",
	IDNo:      "440101199001011234",
	Name:      "张三",
	CardSN:    "440100D156000005000A2B3C",
	PsnNo:     "44000011990010112345",
	AccountNo: "6217000000000000017",
}

// Settlement is a realistic outpatient settlement as the workflow submits
// it, not yet accepted: a card-identified patient, a doctor's bill of
// three items of each class.
func Settlement(key string) *agent.Settlement {
	return &agent.Settlement{
		IdempotencyKey: key,
		Fingerprint:    "sha256:" + key,
		State:          agent.StateAccepted,
		CertType:       "03",
		Operator:       agent.Operator{ID: "D0042", Name: "Doctor on duty", Type: "1"},
		Personal:       Personal,
		Bill: agent.Bill{
			VisitNo:    "MZ20260302-0042",
			DeptCode:   "A03.01",
			DeptName:   "Internal medicine",
			DoctorID:   "D0042",
			DoctorName: "Doctor on duty",
			Items: []agent.FeeItem{
				{Code: "XJ01CAA040A001010104422", HospCode: "Y0001", Name: "Amoxicillin capsules", Class: "01", Quantity: money.QuantityOf(2), UnitPrice: money.PriceOfFen(1250), Amount: 2500},
				{Code: "001201000010000-120100001", HospCode: "F0002", Name: "Outpatient consultation", Class: "02", Quantity: money.QuantityOf(1), UnitPrice: money.PriceOfFen(2000), Amount: 2000},
				{Code: "250101001", HospCode: "J0003", Name: "Complete blood count", Class: "03", Quantity: money.QuantityOf(1), UnitPrice: money.PriceOfFen(2379), Amount: 2379},
			},
		},
		Events: []agent.Event{{At: Start, State: agent.StateAccepted}},
	}
}

// Logger writes the journal's log to the test's log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

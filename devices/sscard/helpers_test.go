package sscard

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/devices/apdu"
	"github.com/seed-a859fada/medterm/devices/psam"
	"github.com/seed-a859fada/medterm/devices/vcard"
)

// Test keys: the master key every virtual 3.0 card is issued under, and
// one that is not it.
var (
	testMaster  = unhexT("0123456789ABCDEFFEDCBA9876543210")
	otherMaster = unhexT("00112233445566778899AABBCCDDEEFF")
)

const testKeyID = DefaultKeyID

// testAccount is an invented UnionPay debit account number with a valid
// check digit.
const testAccount = "6217000000000000004"

// profile is a valid card of the given version held by a fictitious
// person.
func profile(version string) vcard.Profile {
	return vcard.Profile{
		Version:     version,
		CardID:      unhexT("440100D156000005" + "0000000000012345"),
		CardType:    '1',
		Institution: "440100D15600",
		IssueDate:   "20200115",
		ExpiryDate:  "20300115",
		CardNumber:  "A12345678",
		IDNumber:    "440106199003071231",
		Name:        "张三",
		Gender:      '1',
		Ethnicity:   "01",
		Birthplace:  "440106",
		BirthDate:   "19900307",
		MasterKey:   testMaster,
		KeyID:       testKeyID,
	}
}

// today is inside every test profile's validity.
func fakeClock() *clock.Fake {
	return clock.NewFake(time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC))
}

func newCard(t testing.TB, p vcard.Profile, f vcard.Faults) *vcard.Card {
	t.Helper()
	c, err := vcard.NewCard(p, f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// slot is a reader with one card in it, for the PSAM.
type slot struct{ card vcard.DirectCard }

func (s slot) Connect(context.Context, string) (vcard.DirectCard, error) { return s.card, nil }

// virtualPSAM is a psam.Module over an in-process virtual PSAM holding
// master.
func virtualPSAM(t testing.TB, master []byte) *psam.Module {
	t.Helper()
	p, err := vcard.NewPSAM(map[byte][]byte{testKeyID: master})
	if err != nil {
		t.Fatal(err)
	}
	return psam.New(slot{vcard.Direct(p)}, "PSAM")
}

func unhexT(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// patched is a card that answers some commands from a script and passes
// the rest to a real (virtual) card: each malformed answer is one entry,
// everything around it is a genuine card.
type patched struct {
	apdu.Conn
	answers map[string]string // command hex → response hex
	sent    []string
}

func (p *patched) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	key := strings.ToUpper(hex.EncodeToString(cmd))
	p.sent = append(p.sent, key)
	if resp, ok := p.answers[key]; ok {
		return unhexT(resp), nil
	}
	return p.Conn.Transmit(ctx, cmd)
}

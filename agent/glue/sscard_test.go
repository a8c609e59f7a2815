package glue_test

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/glue"
	"github.com/seed-a859fada/medterm/devices/sscard"
	"github.com/seed-a859fada/medterm/devices/vcard"
)

// profile is a valid 2.0 card of a fictitious person.
func profile() vcard.Profile {
	id, _ := hex.DecodeString("441900D1560000050A1B2C3D00000002")
	return vcard.Profile{
		Version: "2.00", CardID: id, CardType: '1', Institution: "441900D15600",
		IssueDate: "20160510", ExpiryDate: "20360510", CardNumber: "D19880002",
		IDNumber: "440106199003071231", Name: "张三", Gender: '1', Ethnicity: "01",
		Birthplace: "440106", BirthDate: "19900307",
	}
}

func directCard(t *testing.T, p vcard.Profile, f vcard.Faults) vcard.DirectCard {
	t.Helper()
	c, err := vcard.NewCard(p, f)
	if err != nil {
		t.Fatal(err)
	}
	return vcard.Direct(c)
}

var today = clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))

func TestIdentifierGivesTheCoreTheCardsIdentity(t *testing.T) {
	ident := glue.Identifier{R: &sscard.Reader{Clock: today}}
	got, err := ident.Identify(context.Background(), directCard(t, profile(), vcard.Faults{}))
	if err != nil {
		t.Fatal(err)
	}
	want := agent.CardIdentity{
		CardNo: "D19880002", CardSN: "441900D1560000050A1B2C3D00000002", IDNo: "440106199003071231",
		Name: "张三", Gender: "1", BirthDate: "1990-03-07", Version: "2.00", ExpiryDate: "2036-05-10",
	}
	// The iReadCardBas string for registering the patient, from the
	// card's own formatter: the ID number and the name in their fields.
	bas := strings.Split(got.ReadCardBas, "|")
	if len(bas) != 12 || bas[1] != want.IDNo || bas[2] != want.CardNo || bas[4] != want.Name {
		t.Errorf("iReadCardBas %q", got.ReadCardBas)
	}
	got.ReadCardBas = ""
	if got != want {
		t.Fatalf("identity\n%+v\nwant\n%+v", got, want)
	}
}

func TestIdentifierReturnsAnExpiredCardWithoutAnError(t *testing.T) {
	p := profile()
	p.ExpiryDate = "20200101"
	got, err := glue.Identifier{R: &sscard.Reader{Clock: today}}.Identify(context.Background(), directCard(t, p, vcard.Faults{}))
	if err != nil {
		t.Fatalf("an expired card: %v; refusing it is the workflow's call", err)
	}
	if !got.Expired || got.IDNo != p.IDNumber {
		t.Fatalf("identity %+v, want the holder with Expired set", got)
	}
}

func TestIdentifierFailsOnAnUnreadableCard(t *testing.T) {
	p := profile()
	p.Blocked = true
	got, err := glue.Identifier{R: &sscard.Reader{Clock: today}}.Identify(context.Background(), directCard(t, p, vcard.Faults{}))
	if err == nil || got != (agent.CardIdentity{}) {
		t.Fatalf("a blocked card: %+v, %v; want no identity and the card's error", got, err)
	}
}

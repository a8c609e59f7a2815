package sscard

import (
	"errors"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/devices/apdu"
	"github.com/seed-a859fada/medterm/devices/vcard"
)

// Commands of the financial application as the reader sends them.
const (
	selectDebitCmd = "00A4040008A00000033301010100"
	readAccountCmd = "00B2010C00"
)

// withAccount is a valid 2.0 card with a financial function.
func withAccount() vcard.Profile {
	p := profile("2.00")
	p.AccountNo = testAccount
	return p
}

func TestReadsTheFinancialAccount(t *testing.T) {
	plain, plainN, err := read(t, vcard.Direct(newCard(t, profile("2.00"), vcard.Faults{})), &Reader{})
	if err != nil {
		t.Fatal(err)
	}
	if plain.AccountNo != "" || plain.AccountErr != nil {
		t.Fatalf("a card without a financial function: account %q, %v", plain.AccountNo, plain.AccountErr)
	}
	id, n, err := read(t, vcard.Direct(newCard(t, withAccount(), vcard.Faults{})), &Reader{})
	if err != nil {
		t.Fatal(err)
	}
	if id.AccountNo != testAccount || id.AccountErr != nil {
		t.Fatalf("account %q, %v; want %s", id.AccountNo, id.AccountErr, testAccount)
	}
	// SELECT and GET RESPONSE for the FCI, READ RECORD twice (6Cxx for
	// Le 00), against the one SELECT answered 6A82.
	if n != plainN+3 {
		t.Fatalf("%d APDUs, want %d", n, plainN+3)
	}
	id.AccountNo = ""
	if *id != *plain {
		t.Fatalf("the identity differs with a financial function:\n%+v\n%+v", *id, *plain)
	}
}

func TestFinancialAccountThroughTransportQuirks(t *testing.T) {
	for _, f := range []vcard.Faults{{Chain: 5}, {WrongLe: true}, {Chain: 3, WrongLe: true}} {
		id, _, err := read(t, vcard.Direct(newCard(t, withAccount(), f)), &Reader{})
		if err != nil || id.AccountNo != testAccount {
			t.Fatalf("faults %+v: account %q, %v, %v", f, id.AccountNo, id.AccountErr, err)
		}
	}
}

func TestFinancialAccountFromTrack2WhenTag5AIsAbsent(t *testing.T) {
	// 57: the account number, D, YYMM, service code 220, discretionary
	// data, F-padded.
	rec := unhexT("70 11 57 0F 6217000000000000004D3001220000")
	id, _, err := read(t, vcard.Direct(newCard(t, withAccount(), vcard.Faults{AccountRecord: rec})), &Reader{})
	if err != nil || id.AccountNo != testAccount || id.AccountErr != nil {
		t.Fatalf("account %q, %v, %v; want it from track 2", id.AccountNo, id.AccountErr, err)
	}
}

// Every malformed answer of the financial application is a typed error
// beside a good identity, and none shows the account number.
func TestMalformedFinancialAnswersKeepTheIdentity(t *testing.T) {
	fci := "6F1B8408A000000333010101A50F500A50424F43204445424954870101"
	cases := []struct {
		name    string
		command string // answered by a script; "" for the card's record fault
		answer  string
		record  string // the card's financial record, as read
		want    error
	}{
		{"select refused", selectDebitCmd, "6985", "", apdu.ErrConditions},
		{"select with an unknown status", selectDebitCmd, "6283", "", apdu.ErrUnknownStatus},
		{"select answer without a status word", selectDebitCmd, "90", "", apdu.ErrShortResponse},
		{"FCI with the wrong template", selectDebitCmd, "700A8408A000000333010101" + "9000", "", ErrWrongTag},
		{"FCI of the credit application", selectDebitCmd, "6F0A8408A000000333010102" + "9000", "", ErrNotDebit},
		{"FCI truncated", selectDebitCmd, fci[:20] + "9000", "", ErrTruncatedRecord},
		{"record not found", readAccountCmd, "6A83", "", apdu.ErrRecordNotFound},
		{"record with the wrong template", "", "", "710C5A0A6217000000000000004F", ErrWrongTag},
		{"record truncated", "", "", "700C5A0A621700000000", ErrTruncatedRecord},
		{"record with a bad length", "", "", "70835A0A6217000000000000004F", ErrBadTLV},
		{"record with bytes after the template", "", "", "700C5A0A6217000000000000004F" + "9F", ErrBadTLV},
		{"account number with a letter", "", "", "700C5A0A62170000A0000000004F", ErrBadBCD},
		{"account number with F inside", "", "", "700C5A0A6217F000000000000004", ErrBadBCD},
		{"account number of 15 digits", "", "", "700A5A08621700000000004F", ErrBadAccountNo},
		{"account number of 11 bytes", "", "", "700D5A0B6217000000000000000000", ErrBadAccountNo},
		{"wrong check digit", "", "", "700C5A0A6217000000000000001F", ErrAccountCheckDigit},
		{"no account number", "", "", "70065F2403300131", ErrNoAccountNo},
		{"track 2 without a separator", "", "", "700F570D62170000000000000043001220", ErrBadTrack2},
		{"track 2 naming another account", "", "", "701D5A0A6217000000000000004F570F6217000000000000012D3001220000", ErrAccountMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var f vcard.Faults
			if c.record != "" {
				f.AccountRecord = unhexT(c.record)
			}
			card := &patched{Conn: vcard.Direct(newCard(t, withAccount(), f)), answers: map[string]string{}}
			if c.command != "" {
				card.answers[c.command] = c.answer
			}
			id, _, err := read(t, card, &Reader{})
			if err != nil {
				t.Fatalf("the read failed: %v; a financial answer must not fail it", err)
			}
			if id.IDNumber != withAccount().IDNumber || id.Name != "张三" {
				t.Fatalf("identity %+v", id)
			}
			if id.AccountNo != "" || !errors.Is(id.AccountErr, c.want) {
				t.Fatalf("account %q, error %v; want none and %v", id.AccountNo, id.AccountErr, c.want)
			}
			if msg := id.AccountErr.Error(); strings.Contains(msg, "62170000") || strings.Contains(msg, "0000000000") {
				t.Fatalf("error %q shows the account number", msg)
			}
		})
	}
}

func TestACardPulledDuringTheFinancialReadEndsTheRead(t *testing.T) {
	// 16 APDUs read SSSE and EF05/EF06 of a 2.0 card; the 17th is the
	// SELECT of the financial application.
	_, _, err := read(t, vcard.Direct(newCard(t, withAccount(), vcard.Faults{PullAfter: 17})), &Reader{})
	if !errors.Is(err, vcard.ErrPulled) || !strings.Contains(err.Error(), "financial application") {
		t.Fatalf("err %v, want the pulled card while selecting the financial application", err)
	}
}

func TestTheAccountIsMaskedInTheLog(t *testing.T) {
	id, _, err := read(t, vcard.Direct(newCard(t, withAccount(), vcard.Faults{})), &Reader{})
	if err != nil {
		t.Fatal(err)
	}
	logged := id.LogValue().String()
	if strings.Contains(logged, testAccount) || !strings.Contains(logged, "6217 **** **** 0004") {
		t.Fatalf("log value %s: want the account masked", logged)
	}
}

func TestParseAccountRecordAcceptsPaddingAndLongLengths(t *testing.T) {
	for name, rec := range map[string]string{
		"00 padding between objects": "700E00005A0A6217000000000000004F",
		"81 length form":             "70810C5A0A6217000000000000004F",
		"two-byte tags around it":    "70135F3401015A0A6217000000000000004F9F0800",
	} {
		pan, err := parseAccountRecord(unhexT(rec))
		if err != nil || pan != testAccount {
			t.Errorf("%s: %q, %v", name, pan, err)
		}
	}
}

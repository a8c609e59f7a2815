package sscard

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/devices/apdu"
	"github.com/seed-a859fada/medterm/devices/vcard"
)

func read(t *testing.T, card apdu.Conn, r *Reader) (*Identity, int, error) {
	t.Helper()
	if r.Clock == nil {
		r.Clock = fakeClock()
	}
	c := apdu.Count(card)
	id, err := r.Read(context.Background(), c)
	return id, c.N(), err
}

func TestReadsEveryGeneration(t *testing.T) {
	cases := []struct {
		version string
		// SELECT + GET RESPONSE, 7 EF05 records, EF06 records, 3.0
		// authentication, and the SELECT of a financial application that
		// this card lacks (6A82).
		apdus int
	}{
		{"1.00", 2 + 7 + 6 + 1},
		{"2.00", 2 + 7 + 7 + 1},
		{"3.00", 2 + 7 + 2 + 7 + 1},
	}
	for _, c := range cases {
		t.Run(c.version, func(t *testing.T) {
			card := newCard(t, profile(c.version), vcard.Faults{})
			id, n, err := read(t, vcard.Direct(card), &Reader{Module: virtualPSAM(t, testMaster)})
			if err != nil {
				t.Fatal(err)
			}
			want := Identity{
				CardID:      "440100D1560000050000000000012345",
				Region:      "440100",
				CardType:    "1",
				Version:     c.version,
				Institution: "440100D15600",
				IssueDate:   "2020-01-15",
				ExpiryDate:  "2030-01-15",
				CardNumber:  "A12345678",
				IDNumber:    "440106199003071231",
				Name:        "张三",
				Gender:      "1",
				Ethnicity:   "01",
				Birthplace:  "440106",
				BirthDate:   "1990-03-07",
				ATR:         strings.ToUpper("3B6C0000535343" + hexOf(c.version[:1]) + "0000000000012345"),
			}
			if *id != want {
				t.Fatalf("read\n%+v\nwant\n%+v", *id, want)
			}
			if n != c.apdus {
				t.Fatalf("read sent %d APDUs, want %d", n, c.apdus)
			}
		})
	}
}

func hexOf(s string) string { return strings.ToUpper(strings.TrimSpace(hexString([]byte(s)))) }

func hexString(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}

func TestNamesDecodeAsGB18030(t *testing.T) {
	cases := []struct {
		name, version string
	}{
		{"刘䶮", "2.00"}, // U+4DAE: FE9F, outside strict GBK's mapping
		{"王𠮷", "1.00"}, // a 4-byte GB18030 sequence
		{"阿卜杜热合曼·买买提艾力·吐尔逊", "2.00"}, // 32 bytes: the last two in tag 4E
		{"买买提阿卜杜热合曼艾尔肯江𠮷", "3.00"},   // 26 bytes + a 4-byte character that straddles 09 and 4E
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := profile(c.version)
			p.Name = c.name
			id, _, err := read(t, vcard.Direct(newCard(t, p, vcard.Faults{})), &Reader{Module: virtualPSAM(t, testMaster)})
			if err != nil {
				t.Fatal(err)
			}
			if id.Name != c.name {
				t.Fatalf("name %q, want %q", id.Name, c.name)
			}
		})
	}
}

func TestTransportQuirksReadTheSameIdentity(t *testing.T) {
	base, baseN, err := read(t, vcard.Direct(newCard(t, profile("2.00"), vcard.Faults{})), &Reader{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		faults vcard.Faults
		extra  int // APDUs beyond a plain read
	}{
		// The 14 records (111 bytes with their headers) take 38 GET
		// RESPONSEs in parts of 5 bytes; the 19-byte FCI takes 3 more.
		{"61xx chains in parts of 5 bytes", vcard.Faults{Chain: 5}, 38 + 3},
		{"6Cxx before every record", vcard.Faults{WrongLe: true}, 14},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, n, err := read(t, vcard.Direct(newCard(t, profile("2.00"), c.faults)), &Reader{})
			if err != nil {
				t.Fatal(err)
			}
			if *id != *base {
				t.Fatalf("read %+v, want %+v", id, base)
			}
			if n != baseN+c.extra {
				t.Fatalf("%d APDUs, want %d", n, baseN+c.extra)
			}
		})
	}
}

// Record commands as the reader sends them, for scripting answers.
const (
	readCardID    = "00B2012812"
	readVersion   = "00B2032806"
	readIssue     = "00B2052806"
	readExpiry    = "00B2062806"
	readCardNo    = "00B207280B"
	readIDNumber  = "00B2083014"
	readName      = "00B2093020"
	readGender    = "00B20A3003"
	readBirthDate = "00B20D3006"
)

func TestMalformedAnswersAreTypedErrors(t *testing.T) {
	cases := []struct {
		name    string
		command string
		answer  string
		want    error
		in      string // the field named in the message
	}{
		{"truncated record", readCardID, "0110440100D1569000", ErrTruncatedRecord, "card identifier"},
		{"record of two bytes short of a header", readCardID, "019000", ErrTruncatedRecord, "card identifier"},
		{"wrong tag", readCardNo, "0809413132333435363738" + "9000", ErrWrongTag, "card number"},
		{"wrong length byte", readCardNo, "0708413132333435363738" + "9000", ErrLengthByte, "card number"},
		{"bytes after the value", readCardNo, "070941313233343536373839" + "9000", ErrLengthByte, "card number"},
		{"bad BCD", readIssue, "0504201A01159000", ErrBadBCD, "issue date"},
		{"date that does not exist", readExpiry, "0604203002309000", ErrBadDate, "expiry date"},
		{"unknown spec version", readVersion, "0304342E30309000", ErrUnsupported, "spec version"},
		{"region that is no province", readCardID, "0110990100D15600000500000000000123459000", ErrBadRegion, "card identifier"},
		{"identifier without the national RID", readCardID, "0110440100A00000000300000000000123459000", ErrBadCardID, "card identifier"},
		{"bad check digit", readIDNumber, "0812" + hexString([]byte("440106199003071232")) + "9000", ErrBadCheckDigit, "ID number"},
		{"ID number with a letter", readIDNumber, "0812" + hexString([]byte("44010619900307123A")) + "9000", ErrBadIDNumber, "ID number"},
		{"ID number with an impossible birth date", readIDNumber, "0812" + hexString([]byte("440106199002301234")) + "9000", ErrBadIDNumber, "ID number"},
		{"name that is not GB18030", readName, "091E" + "8120" + strings.Repeat("00", 28) + "9000", ErrBadName, "name"},
		{"blank name", readName, "091E" + strings.Repeat("00", 30) + "9000", ErrBadName, "name"},
		{"gender code", readGender, "0A01339000", ErrBadGender, "gender"},
		{"birth date BCD", readBirthDate, "0D0419900F079000", ErrBadBCD, "birth date"},
		{"unknown status word", readGender, "6F00", apdu.ErrUnknownStatus, "gender"},
		{"record not found", readBirthDate, "6A83", apdu.ErrRecordNotFound, "birth date"},
		{"answer without a status word", readCardNo, "90", apdu.ErrShortResponse, "card number"},
		{"application missing", "00A404000F" + hexString(ssse), "6A82", apdu.ErrFileNotFound, "select SSSE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			card := &patched{Conn: vcard.Direct(newCard(t, profile("2.00"), vcard.Faults{})), answers: map[string]string{c.command: c.answer}}
			id, _, err := read(t, card, &Reader{})
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if id != nil {
				t.Fatal("an identity came back with a malformed read")
			}
			if !strings.Contains(err.Error(), c.in) {
				t.Fatalf("error %q does not name %q", err, c.in)
			}
			if strings.Contains(err.Error(), "440106199003071") {
				t.Fatalf("error %q shows the ID number", err)
			}
		})
	}
}

func TestCorruptRecordOnTheCardIsCaught(t *testing.T) {
	f := vcard.Faults{Corrupt: map[byte][]byte{0x0D: unhexT("0D04 1990 0230")}}
	_, _, err := read(t, vcard.Direct(newCard(t, profile("2.00"), f)), &Reader{})
	if !errors.Is(err, ErrBadDate) {
		t.Fatalf("err %v, want ErrBadDate", err)
	}
}

func TestMissingNameExtensionIsAnEmptyExtension(t *testing.T) {
	card := &patched{Conn: vcard.Direct(newCard(t, profile("2.00"), vcard.Faults{})), answers: map[string]string{"00B24E3016": "6A83"}}
	id, _, err := read(t, card, &Reader{})
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "张三" {
		t.Fatalf("name %q", id.Name)
	}
}

func TestThirdGeneration(t *testing.T) {
	t.Run("without a secure module the read stops before EF06", func(t *testing.T) {
		card := &patched{Conn: vcard.Direct(newCard(t, profile("3.00"), vcard.Faults{}))}
		_, _, err := read(t, card, &Reader{})
		if !errors.Is(err, ErrNoSecureModule) {
			t.Fatalf("err %v", err)
		}
		for _, s := range card.sent {
			if strings.HasSuffix(s[:8], "30") {
				t.Fatalf("EF06 was read: %s", s)
			}
		}
	})
	t.Run("a wrong key is refused by the card with its tries left", func(t *testing.T) {
		vc := newCard(t, profile("3.00"), vcard.Faults{})
		_, _, err := read(t, vcard.Direct(vc), &Reader{Module: virtualPSAM(t, otherMaster)})
		if !errors.Is(err, apdu.ErrVerifyFailed) {
			t.Fatalf("err %v, want ErrVerifyFailed", err)
		}
		if !strings.Contains(err.Error(), "external authenticate: status 63C2") {
			t.Fatalf("error %q does not name the card's status word", err)
		}
		if vc.Tries() != 2 {
			t.Fatalf("card has %d tries left", vc.Tries())
		}
	})
	t.Run("reading EF06 unauthenticated gets 6982", func(t *testing.T) {
		card := vcard.Direct(newCard(t, profile("3.00"), vcard.Faults{}))
		if _, err := apdu.Exchange(context.Background(), card, apdu.Command{INS: 0xA4, P1: 4, Data: ssse}); err != nil {
			t.Fatal(err)
		}
		_, err := apdu.Exchange(context.Background(), card, apdu.Command{INS: 0xB2, P1: 0x08, P2: 0x30, Le: 20})
		if !errors.Is(err, apdu.ErrSecurityStatus) {
			t.Fatalf("err %v, want 6982", err)
		}
	})
	t.Run("a blocked key answers 6983", func(t *testing.T) {
		p := profile("3.00")
		p.AuthTries = 1
		vc := newCard(t, p, vcard.Faults{})
		wrong := &Reader{Module: virtualPSAM(t, otherMaster)}
		if _, _, err := read(t, vcard.Direct(vc), wrong); !errors.Is(err, apdu.ErrVerifyFailed) {
			t.Fatalf("first wrong key: %v", err)
		}
		_, _, err := read(t, vcard.Direct(vc), &Reader{Module: virtualPSAM(t, testMaster)})
		if !errors.Is(err, apdu.ErrBlocked) {
			t.Fatalf("right key after blocking: %v, want 6983", err)
		}
	})
}

func TestBlockedCardIsNamed(t *testing.T) {
	p := profile("2.00")
	p.Blocked = true
	_, _, err := read(t, vcard.Direct(newCard(t, p, vcard.Faults{})), &Reader{})
	if !errors.Is(err, apdu.ErrBlocked) || !strings.Contains(err.Error(), "select SSSE: status 6983") {
		t.Fatalf("err %v", err)
	}
}

func TestExpiredCardIsReturnedWithATypedError(t *testing.T) {
	p := profile("2.00")
	p.ExpiryDate = "20250531"
	id, _, err := read(t, vcard.Direct(newCard(t, p, vcard.Faults{})), &Reader{})
	if !errors.Is(err, ErrCardExpired) || err.Error() != "card expired on 2025-05-31" {
		t.Fatalf("err %v", err)
	}
	if id == nil || id.IDNumber != p.IDNumber {
		t.Fatal("the identity read must come back with the expiry error")
	}

	p.ExpiryDate = "20250601" // the last valid day is today
	if _, _, err := read(t, vcard.Direct(newCard(t, p, vcard.Faults{})), &Reader{}); err != nil {
		t.Fatalf("a card is valid on its expiry date: %v", err)
	}
}

func TestPulledCardEndsTheRead(t *testing.T) {
	_, _, err := read(t, vcard.Direct(newCard(t, profile("2.00"), vcard.Faults{PullAfter: 9})), &Reader{})
	if !errors.Is(err, vcard.ErrPulled) {
		t.Fatalf("err %v", err)
	}
}

func TestIdentityJSONAndLog(t *testing.T) {
	id, _, err := read(t, vcard.Direct(newCard(t, profile("2.00"), vcard.Faults{})), &Reader{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"card_id":"440100D1560000050000000000012345"`, `"id_number":"440106199003071231"`, `"issue_date":"2020-01-15"`, `"name":"张三"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON %s lacks %s", b, key)
		}
	}
	logged := id.LogValue().String()
	for _, secret := range []string{"440106199003071231", "张三", "0000000000012345"} {
		if strings.Contains(logged, secret) {
			t.Errorf("log value %s shows %s", logged, secret)
		}
	}
}

func TestErrorsDoNotShowPersonalData(t *testing.T) {
	cases := []struct{ name, command, answer string }{
		{"birth date BCD", readBirthDate, "0D0419900F079000"},
		{"impossible birth date", readBirthDate, "0D04199002309000"},
		{"birth date in the ID", readIDNumber, "0812" + hexString([]byte("440106199002301234")) + "9000"},
		{"region in the ID", readIDNumber, "0812" + hexString([]byte("990106199003071231")) + "9000"},
	}
	for _, c := range cases {
		card := &patched{Conn: vcard.Direct(newCard(t, profile("2.00"), vcard.Faults{})), answers: map[string]string{c.command: c.answer}}
		_, _, err := read(t, card, &Reader{})
		if err == nil {
			t.Fatalf("%s: no error", c.name)
		}
		for _, secret := range []string{"1990", "0230", "0F07", "440106", "990106"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error %q shows %q", c.name, err, secret)
			}
		}
	}
}

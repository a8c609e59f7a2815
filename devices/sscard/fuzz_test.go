package sscard

import (
	"context"
	"testing"
	"unicode/utf8"

	"github.com/seed-a859fada/medterm/agent/pan"
	"github.com/seed-a859fada/medterm/devices/apdu"
	"github.com/seed-a859fada/medterm/devices/vcard"
)

// FuzzRecord feeds arbitrary answers to the record parser and the field
// decoders: whatever a card sends, the reader returns a value or an error,
// never a panic, and a value it accepts has the field's exact size.
func FuzzRecord(f *testing.F) {
	records, values := seedRecords(f)
	for tag, rec := range records {
		f.Add(tag, rec)
	}
	f.Add(byte(0x01), []byte{0x01})
	f.Add(byte(0x09), []byte{0x09, 0x1E, 0x81, 0x30, 0x81})
	f.Add(byte(0x0C), []byte{0x0C, 0x03, 0x4F, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, tag byte, rec []byte) {
		fl, ok := fieldsByTag[tag]
		if !ok {
			return
		}
		v, err := parseRecord(fl, rec)
		if err != nil {
			return
		}
		if len(v) != fl.size {
			t.Fatalf("%v: accepted %d bytes", fl, len(v))
		}
		id := &Identity{}
		var derr error
		switch fl.sfi {
		case 5:
			m := copyMap(values[0])
			m[tag] = v
			derr = id.decodeEF05(m)
		case 6:
			m := copyMap(values[1])
			m[tag] = v
			derr = id.decodeEF06(m)
		}
		if derr == nil {
			for _, s := range []string{id.Name, id.CardNumber, id.Institution, id.IDNumber} {
				if !utf8.ValidString(s) {
					t.Fatalf("accepted invalid UTF-8 %q", s)
				}
			}
			_ = id.ReadCardBas("", "")
		}
	})
}

// seedRecords reads every record of a valid 2.0 virtual card and returns
// the records and, for the decoders, their values, by tag.
func seedRecords(f *testing.F) (records map[byte][]byte, values [2]map[byte][]byte) {
	card := vcard.Direct(newCard(f, profile("2.00"), vcard.Faults{}))
	ctx := context.Background()
	if _, err := apdu.Exchange(ctx, card, apdu.Command{INS: 0xA4, P1: 4, Data: ssse}); err != nil {
		f.Fatal(err)
	}
	records = map[byte][]byte{}
	values = [2]map[byte][]byte{{}, {}}
	for _, fl := range fieldsByTag {
		rec, err := apdu.Exchange(ctx, card, apdu.Command{INS: 0xB2, P1: fl.tag, P2: fl.sfi << 3, Le: fl.size + 2})
		if err != nil {
			f.Fatalf("%v: %v", fl, err)
		}
		records[fl.tag] = rec
		values[fl.sfi-5][fl.tag] = rec[2:]
	}
	return records, values
}

func copyMap(m map[byte][]byte) map[byte][]byte {
	out := make(map[byte][]byte, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// FuzzAccountRecord feeds arbitrary records and FCIs to the financial
// application's parsers: whatever a card sends, they return an account
// number or an error, never a panic, and a number they accept is 16 to 19
// digits with a valid check digit.
func FuzzAccountRecord(f *testing.F) {
	card := vcard.Direct(newCard(f, withAccount(), vcard.Faults{}))
	ctx := context.Background()
	fci, err := apdu.Exchange(ctx, card, selectDebit)
	if err != nil {
		f.Fatal(err)
	}
	rec, err := apdu.Exchange(ctx, card, readAccount)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rec)
	f.Add(fci)
	f.Add(unhexT("70 11 57 0F 6217000000000000004D3001220000"))
	f.Add(unhexT("70 81 0C 5A 0A 6217000000000000004F"))
	f.Add(unhexT("70 13 5F3401 01 5A0A 6217000000000000004F 9F0800"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = checkFCI(b)
		number, err := parseAccountRecord(b)
		if err != nil {
			return
		}
		if len(number) < 16 || len(number) > 19 || !digits(number) || !pan.Luhn(number) {
			t.Fatalf("accepted account number of %d characters that does not check", len(number))
		}
	})
}

package base45_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/seed-a859fada/medterm/devices/credential/base45"
)

// The examples of RFC 9285, sections 4.3 and 4.4.
func TestEncodeMatchesRFC9285Examples(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"", ""},
		{"\x00", "00"},
		{"\xff", "U5"},
		{"\xff\xff", "FGW"},
	} {
		if got := base45.EncodeToString([]byte(tc.in)); got != tc.want {
			t.Errorf("Encode(%q) = %q, want %q", tc.in, got, tc.want)
		}
		got, err := base45.DecodeString(tc.want)
		if err != nil || string(got) != tc.in {
			t.Errorf("Decode(%q) = %q, %v; want %q", tc.want, got, err, tc.in)
		}
	}
}

func TestDecodeRefusesWhatNoEncodingProduces(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"lone trailing character", "BB8A", base45.ErrLength},
		{"single character", "A", base45.ErrLength},
		{"lower-case letter", "bb8", base45.ErrCharacter},
		{"character outside the alphabet", "BB#", base45.ErrCharacter},
		{"non-ASCII byte", "B\xc3\xa9", base45.ErrCharacter},
		{"triple above 65535 (RFC 9285 example)", "GGW", base45.ErrOverflow},
		{"triple of all maxima", ":::", base45.ErrOverflow},
		{"pair above 255", "V5", base45.ErrOverflow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := base45.DecodeString(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode(%q) error = %v, want %v", tc.in, err, tc.want)
			}
		})
	}
}

func TestLengthsAgreeWithEncoding(t *testing.T) {
	for n := range 10 {
		enc := base45.EncodeToString(make([]byte, n))
		if len(enc) != base45.EncodedLen(n) {
			t.Errorf("EncodedLen(%d) = %d, encoding has %d", n, base45.EncodedLen(n), len(enc))
		}
		if base45.DecodedLen(len(enc)) != n {
			t.Errorf("DecodedLen(%d) = %d, want %d", len(enc), base45.DecodedLen(len(enc)), n)
		}
	}
	if base45.DecodedLen(4) != -1 {
		t.Errorf("DecodedLen(4) = %d, want -1", base45.DecodedLen(4))
	}
}

func TestAppendKeepsThePrefix(t *testing.T) {
	enc := base45.AppendEncode([]byte("YB1:"), []byte("AB"))
	if string(enc) != "YB1:BB8" {
		t.Fatalf("AppendEncode = %q", enc)
	}
	dec, err := base45.AppendDecode([]byte{1}, "BB8")
	if err != nil || !bytes.Equal(dec, []byte{1, 'A', 'B'}) {
		t.Fatalf("AppendDecode = %v, %v", dec, err)
	}
}

// Every text the decoder accepts is the one encoding of its bytes, and
// every byte string survives a round trip.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("Hello!!"), "%69 VD92EX0")
	f.Add([]byte{0xff, 0xff, 0}, "GGW")
	f.Add([]byte{}, "::")
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		back, err := base45.DecodeString(base45.EncodeToString(data))
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("round trip of %x: %x, %v", data, back, err)
		}
		dec, err := base45.DecodeString(text)
		if err != nil {
			return
		}
		if again := base45.EncodeToString(dec); again != text {
			t.Fatalf("Decode(%q) accepted, but its bytes encode as %q", text, again)
		}
	})
}

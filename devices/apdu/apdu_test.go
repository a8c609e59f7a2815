package apdu

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// script is a card that expects a fixed sequence of commands and answers
// each with a fixed response; anything else fails the test.
type script struct {
	t     *testing.T
	steps [][2]string // command hex, response hex
	i     int
}

func (s *script) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	s.t.Helper()
	if s.i >= len(s.steps) {
		s.t.Fatalf("unexpected command %X after the script ended", cmd)
	}
	step := s.steps[s.i]
	s.i++
	if got := strings.ToUpper(hex.EncodeToString(cmd)); got != step[0] {
		s.t.Fatalf("command %d = %s, want %s", s.i, got, step[0])
	}
	return unhex(s.t, step[1]), nil
}

func (s *script) ATR() []byte  { return nil }
func (s *script) Close() error { return nil }

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCommandEncodesAllFourCases(t *testing.T) {
	cases := []struct {
		name string
		cmd  Command
		want string
	}{
		{"case 1", Command{INS: 0xA4, P1: 0x04}, "00A40400"},
		{"case 2", Command{INS: 0xB2, P1: 0x08, P2: 0x30, Le: 20}, "00B2083014"},
		{"case 2 Le 256 as 00", Command{INS: 0xC0, Le: 256}, "00C0000000"},
		{"case 3", Command{INS: 0xA4, P1: 0x02, Data: []byte{0xEF, 0x05}}, "00A4020002EF05"},
		{"case 4", Command{CLA: 0x80, INS: 0xFA, Data: []byte{1, 2}, Le: 16}, "80FA000002010210"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.cmd.String(); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
			back, err := ParseCommand(unhex(t, c.want))
			if err != nil {
				t.Fatal(err)
			}
			if back.String() != c.want {
				t.Fatalf("round trip gave %s", back)
			}
		})
	}
}

func TestCommandRejectsWhatAShortAPDUCannotCarry(t *testing.T) {
	for _, c := range []Command{{Data: make([]byte, 256)}, {Le: 257}, {Le: -1}} {
		if _, err := c.Bytes(); !errors.Is(err, ErrBadCommand) {
			t.Errorf("%+v: err %v, want ErrBadCommand", c, err)
		}
	}
}

func TestParseCommandRejectsInconsistentLc(t *testing.T) {
	for _, s := range []string{"00A4", "00A4040005AABB", "00A40400020102030405", "00A4040000AABB"} {
		if _, err := ParseCommand(unhex(t, s)); !errors.Is(err, ErrBadCommand) {
			t.Errorf("%s: err %v, want ErrBadCommand", s, err)
		}
	}
}

func TestStatusWordsAreNamedAndMatchTheirSentinel(t *testing.T) {
	cases := []struct {
		sw       uint16
		sentinel error
		text     string
	}{
		{0x6700, ErrWrongLength, "status 6700: wrong length"},
		{0x6982, ErrSecurityStatus, "status 6982: security status not satisfied"},
		{0x6983, ErrBlocked, "status 6983: authentication method blocked"},
		{0x6985, ErrConditions, "status 6985: conditions of use not satisfied"},
		{0x6A82, ErrFileNotFound, "status 6A82: file or application not found"},
		{0x6A83, ErrRecordNotFound, "status 6A83: record not found"},
		{0x6A86, ErrWrongP1P2, "status 6A86: incorrect parameters P1-P2"},
		{0x6E00, ErrWrongClass, "status 6E00: class not supported"},
		{0x63C2, ErrVerifyFailed, "status 63C2: verification failed, 2 tries left"},
		{0x63C0, ErrVerifyFailed, "status 63C0: verification failed, 0 tries left"},
		{0x6A88, ErrUnknownStatus, "status 6A88: unknown status word"},
	}
	for _, c := range cases {
		err := Status(c.sw)
		if !errors.Is(err, c.sentinel) {
			t.Errorf("%04X: errors.Is(%v, %v) is false", c.sw, err, c.sentinel)
		}
		if err.Error() != c.text {
			t.Errorf("%04X: message %q, want %q", c.sw, err, c.text)
		}
		var se *StatusError
		if !errors.As(err, &se) || se.SW != c.sw {
			t.Errorf("%04X: not a *StatusError carrying the word", c.sw)
		}
	}
	if Status(SWOK) != nil {
		t.Error("9000 is not an error")
	}
	if errors.Is(Status(0x6982), ErrBlocked) {
		t.Error("6982 must not match another sentinel")
	}
}

func TestTriesLeftOnlyFor63Cx(t *testing.T) {
	e := &StatusError{SW: 0x63C5}
	if n, ok := e.TriesLeft(); !ok || n != 5 {
		t.Fatalf("63C5: %d %v", n, ok)
	}
	if _, ok := (&StatusError{SW: 0x6300}).TriesLeft(); ok {
		t.Fatal("6300 carries no counter")
	}
}

func TestExchange(t *testing.T) {
	cases := []struct {
		name  string
		cmd   Command
		steps [][2]string
		want  string
		err   error
	}{
		{
			name:  "9000 returns the data",
			cmd:   Command{INS: 0xB2, P1: 1, P2: 0x28, Le: 4},
			steps: [][2]string{{"00B2012804", "0102AABB9000"}},
			want:  "0102AABB",
		},
		{
			name: "61xx is followed by GET RESPONSE",
			cmd:  Command{INS: 0xA4, P1: 4, Data: []byte{0xA0}},
			steps: [][2]string{
				{"00A4040001A0", "6104"},
				{"00C0000004", "6F0284009000"},
			},
			want: "6F028400",
		},
		{
			name: "61xx chains accumulate every part",
			cmd:  Command{INS: 0xB2, P1: 9, P2: 0x30, Le: 6},
			steps: [][2]string{
				{"00B2093006", "09046104"},
				{"00C0000004", "41426102"},
				{"00C0000002", "43449000"},
			},
			want: "090441424344",
		},
		{
			name: "6Cxx resends with the card's Le",
			cmd:  Command{INS: 0xB2, P1: 8, P2: 0x30, Le: 0x20},
			steps: [][2]string{
				{"00B2083020", "6C14"},
				{"00B2083014", "0812" + strings.Repeat("31", 18) + "9000"},
			},
			want: "0812" + strings.Repeat("31", 18),
		},
		{
			name: "6C00 means 256",
			cmd:  Command{INS: 0xB0, Le: 1},
			steps: [][2]string{
				{"00B0000001", "6C00"},
				{"00B0000000", "AA9000"},
			},
			want: "AA",
		},
		{
			name: "6Cxx after GET RESPONSE resends the GET RESPONSE",
			cmd:  Command{INS: 0xA4, P1: 4, Data: []byte{0xA0}},
			steps: [][2]string{
				{"00A4040001A0", "6110"},
				{"00C0000010", "6C02"},
				{"00C0000002", "AABB9000"},
			},
			want: "AABB",
		},
		{
			name:  "error status is typed",
			cmd:   Command{INS: 0xB2, P1: 8, P2: 0x30, Le: 20},
			steps: [][2]string{{"00B2083014", "6982"}},
			err:   ErrSecurityStatus,
		},
		{
			name:  "unknown status is typed",
			cmd:   Command{INS: 0xB2, P1: 8, P2: 0x30, Le: 20},
			steps: [][2]string{{"00B2083014", "6F00"}},
			err:   ErrUnknownStatus,
		},
		{
			name:  "a one-byte answer is malformed",
			cmd:   Command{INS: 0x84, Le: 8},
			steps: [][2]string{{"0084000008", "90"}},
			err:   ErrShortResponse,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			card := &script{t: t, steps: c.steps}
			got, err := Exchange(context.Background(), card, c.cmd)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, unhex(t, c.want)) {
				t.Fatalf("data %X, want %s", got, c.want)
			}
			if card.i != len(card.steps) {
				t.Fatalf("sent %d of %d scripted commands", card.i, len(card.steps))
			}
		})
	}
}

// endless answers 61 01 forever, as a broken card might.
type endless struct{ n int }

func (e *endless) Transmit(context.Context, []byte) ([]byte, error) {
	e.n++
	return []byte{0x00, 0x61, 0x01}, nil
}
func (e *endless) ATR() []byte  { return nil }
func (e *endless) Close() error { return nil }

func TestExchangeStopsAnEndlessChain(t *testing.T) {
	card := &endless{}
	_, err := Exchange(context.Background(), card, Command{INS: 0xB2, Le: 4})
	if !errors.Is(err, ErrChainTooLong) {
		t.Fatalf("err %v, want ErrChainTooLong", err)
	}
	if card.n != MaxRounds {
		t.Fatalf("sent %d commands, want the bound %d", card.n, MaxRounds)
	}
}

func TestCounterCountsEveryCommandOnTheWire(t *testing.T) {
	card := Count(&script{t: t, steps: [][2]string{
		{"00A4040001A0", "6102"},
		{"00C0000002", "6C01"},
		{"00C0000001", "AA9000"},
	}})
	if _, err := Exchange(context.Background(), card, Command{INS: 0xA4, P1: 4, Data: []byte{0xA0}}); err != nil {
		t.Fatal(err)
	}
	if card.N() != 3 {
		t.Fatalf("counted %d, want 3", card.N())
	}
}

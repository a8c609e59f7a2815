package vcard

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func testProfile() Profile {
	return Profile{
		Version: "2.00", CardID: bytes.Repeat([]byte{0x44}, 16), CardType: '1',
		Institution: "440100", IssueDate: "20200101", ExpiryDate: "20300101",
		CardNumber: "A12345678", IDNumber: "440106199003071231", Name: "张三",
		Gender: '1', Ethnicity: "01", Birthplace: "4401", BirthDate: "19900307",
	}
}

// vpcd is the reader side of the protocol, as pcscd's vpcd driver plays it.
type vpcd struct {
	t    *testing.T
	ln   net.Listener
	conn net.Conn
}

func listen(t *testing.T) *vpcd {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &vpcd{t: t, ln: ln}
}

func (v *vpcd) accept() {
	v.t.Helper()
	c, err := v.ln.Accept()
	if err != nil {
		v.t.Fatal(err)
	}
	v.conn = c
	v.t.Cleanup(func() { c.Close() })
}

func (v *vpcd) send(msg ...byte) {
	v.t.Helper()
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
	if _, err := v.conn.Write(append(frame, msg...)); err != nil {
		v.t.Fatal(err)
	}
}

func (v *vpcd) recv() ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(v.conn, hdr[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	_, err := io.ReadFull(v.conn, msg)
	return msg, err
}

// serve runs Serve until the test ends; wait returns its result.
func serve(t *testing.T, addr string, a Applet) (cancel func(), wait func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	var err error
	finished := make(chan struct{})
	go func() { err = Serve(ctx, addr, a); close(finished) }()
	t.Cleanup(func() { cancel(); <-finished })
	return cancel, func() error { <-finished; return err }
}

func TestServeSpeaksTheVPCDProtocol(t *testing.T) {
	card, err := NewCard(testProfile(), Faults{})
	if err != nil {
		t.Fatal(err)
	}
	v := listen(t)
	cancel, wait := serve(t, v.ln.Addr().String(), card)
	v.accept()

	v.send(ctrlOn) // control messages get no answer
	v.send(ctrlATR)
	if atr, err := v.recv(); err != nil || !bytes.Equal(atr, card.ATR()) {
		t.Fatalf("ATR %X %v, want %X", atr, err, card.ATR())
	}
	v.send(append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(SSSE))}, SSSE...)...)
	if resp, err := v.recv(); err != nil || resp[0] != 0x61 {
		t.Fatalf("SELECT answered %X %v, want 61xx", resp, err)
	}

	cancel()
	if err := wait(); err != nil {
		t.Fatalf("Serve after its context ended: %v", err)
	}
	if _, err := v.recv(); err == nil {
		t.Fatal("the connection stayed open after the card was removed")
	}
}

func TestServeDropsTheConnectionWhenPulled(t *testing.T) {
	card, _ := NewCard(testProfile(), Faults{PullAfter: 2})
	v := listen(t)
	_, wait := serve(t, v.ln.Addr().String(), card)
	v.accept()
	sel := append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(SSSE))}, SSSE...)
	v.send(sel...)
	if _, err := v.recv(); err != nil {
		t.Fatal(err)
	}
	v.send(sel...)
	if resp, err := v.recv(); err == nil {
		t.Fatalf("a pulled card answered %X", resp)
	}
	if err := wait(); !errors.Is(err, ErrPulled) {
		t.Fatalf("Serve: %v, want ErrPulled", err)
	}
}

func TestServeReconnectsWhenTheReaderComesBack(t *testing.T) {
	card, _ := NewCard(testProfile(), Faults{})
	v := listen(t)
	serve(t, v.ln.Addr().String(), card)
	v.accept()
	v.conn.Close() // pcscd stopped

	accepted := make(chan struct{})
	go func() { v.accept(); close(accepted) }()
	select {
	case <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the card did not come back to the reader")
	}
	v.send(ctrlATR)
	if atr, err := v.recv(); err != nil || !bytes.Equal(atr, card.ATR()) {
		t.Fatalf("ATR after reconnecting: %X %v", atr, err)
	}
}

func TestProfilesThatCannotBeWritten(t *testing.T) {
	cases := map[string]func(*Profile){
		"unknown version":              func(p *Profile) { p.Version = "4.00" },
		"short identifier":             func(p *Profile) { p.CardID = p.CardID[:8] },
		"name too long for a 1.0":      func(p *Profile) { p.Version = "1.00"; p.Name = "阿卜杜热合曼·买买提艾力·吐尔逊" },
		"date with a letter":           func(p *Profile) { p.IssueDate = "2020O101" },
		"card number too long":         func(p *Profile) { p.CardNumber = "A123456789" },
		"3.0 without a 16-byte key":    func(p *Profile) { p.Version = "3.00"; p.MasterKey = []byte{1} },
		"birthplace with seven digits": func(p *Profile) { p.Birthplace = "4401061" },
		"account number of 20 digits":  func(p *Profile) { p.AccountNo = "62170000000000000040" },
		"account number with a letter": func(p *Profile) { p.AccountNo = "621700000000000000A" },
	}
	for name, change := range cases {
		p := testProfile()
		change(&p)
		if _, err := NewCard(p, Faults{}); !errors.Is(err, ErrProfile) {
			t.Errorf("%s: %v, want ErrProfile", name, err)
		}
	}
}

func TestGetResponseHandsOutWhatIsPending(t *testing.T) {
	c := Direct(mustCard(t))
	ctx := context.Background()
	sel := append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(SSSE))}, SSSE...)
	resp, _ := c.Transmit(ctx, sel)
	n := int(resp[1])
	cases := []struct {
		name string
		cmd  []byte
		want []byte // status word
	}{
		{"Le too long gets 6Cxx", []byte{0x00, 0xC0, 0x00, 0x00, byte(n + 1)}, []byte{0x6C, byte(n)}},
		{"a part leaves 61xx", []byte{0x00, 0xC0, 0x00, 0x00, 4}, []byte{0x61, byte(n - 4)}},
		{"the rest ends with 9000", []byte{0x00, 0xC0, 0x00, 0x00, byte(n - 4)}, []byte{0x90, 0x00}},
		{"nothing left gets 6985", []byte{0x00, 0xC0, 0x00, 0x00, 1}, []byte{0x69, 0x85}},
	}
	for _, tc := range cases {
		resp, err := c.Transmit(ctx, tc.cmd)
		if err != nil || !bytes.HasSuffix(resp, tc.want) {
			t.Errorf("%s: %X %v, want …%X", tc.name, resp, err, tc.want)
		}
	}
}

func mustCard(t *testing.T) *Card {
	c, err := NewCard(testProfile(), Faults{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTheFinancialApplicationAnswersAsAT0DebitCard(t *testing.T) {
	p := testProfile()
	p.AccountNo = "6217000000000000004"
	c := Direct(mustCardOf(t, p, Faults{}))
	ctx := context.Background()
	exchange := func(hexCmd string) string {
		t.Helper()
		cmd, _ := hex.DecodeString(hexCmd)
		resp, err := c.Transmit(ctx, cmd)
		if err != nil {
			t.Fatal(err)
		}
		return strings.ToUpper(hex.EncodeToString(resp))
	}
	if got := exchange("00A4040008A00000033301010100"); got != "611D" {
		t.Fatalf("SELECT answered %s, want 611D", got)
	}
	fci := exchange("00C000001D")
	if !strings.HasPrefix(fci, "6F1B8408A000000333010101A50F50"+"0A"+strings.ToUpper(hex.EncodeToString([]byte("PBOC DEBIT")))) || !strings.HasSuffix(fci, "9000") {
		t.Fatalf("FCI %s", fci)
	}
	le := exchange("00B2010C00")
	if !strings.HasPrefix(le, "6C") {
		t.Fatalf("READ RECORD with Le 00 answered %s, want 6Cxx (T=0)", le)
	}
	rec := exchange("00B2010C" + le[2:])
	if !strings.Contains(rec, "5A0A6217000000000000004F") || !strings.HasPrefix(rec, "70") || !strings.Contains(rec, "57") {
		t.Fatalf("record %s lacks the template, track 2 or the F-padded account number", rec)
	}
	for cmd, want := range map[string]string{
		"00B2020C00":      "6A83", // no record 2
		"00B20114" + "00": "6A82", // SFI 2
		"00B2010800":      "6A86", // not "record number in P1"
	} {
		if got := exchange(cmd); got != want {
			t.Errorf("%s answered %s, want %s", cmd, got, want)
		}
	}
	// Selecting the financial application leaves SSSE.
	if got := exchange("00A4020002EF05"); got != "6A82" {
		t.Errorf("EF05 selected in the financial application: %s", got)
	}
}

func TestACardWithoutAFinancialFunctionHasNoSuchApplication(t *testing.T) {
	c := Direct(mustCard(t))
	ctx := context.Background()
	sel := append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(SSSE))}, SSSE...)
	if resp, _ := c.Transmit(ctx, sel); resp[0] != 0x61 {
		t.Fatalf("SELECT SSSE %X", resp)
	}
	if resp, _ := c.Transmit(ctx, append(append([]byte{0x00, 0xA4, 0x04, 0x00, 0x08}, PBOCDebit...), 0x00)); !bytes.Equal(resp, []byte{0x6A, 0x82}) {
		t.Fatalf("SELECT of the financial application %X, want 6A82", resp)
	}
	// A failed SELECT leaves the current application as it was.
	if resp, _ := c.Transmit(ctx, []byte{0x00, 0xA4, 0x02, 0x00, 0x02, 0xEF, 0x05}); !bytes.Equal(resp, []byte{0x90, 0x00}) {
		t.Fatalf("EF05 after the failed SELECT: %X", resp)
	}
}

func TestAccountRecordFaultReplacesTheRecord(t *testing.T) {
	p := testProfile()
	p.AccountNo = "6217000000000000004"
	bad := []byte{0x71, 0x03, 0x5A, 0x01, 0x62}
	c := Direct(mustCardOf(t, p, Faults{AccountRecord: bad}))
	ctx := context.Background()
	c.Transmit(ctx, append(append([]byte{0x00, 0xA4, 0x04, 0x00, 0x08}, PBOCDebit...), 0x00))
	resp, _ := c.Transmit(ctx, []byte{0x00, 0xB2, 0x01, 0x0C, byte(len(bad))})
	if !bytes.Equal(resp, append(bad, 0x90, 0x00)) {
		t.Fatalf("record %X, want the scripted %X", resp, bad)
	}
}

func mustCardOf(t *testing.T, p Profile, f Faults) *Card {
	t.Helper()
	c, err := NewCard(p, f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

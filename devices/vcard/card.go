package vcard

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"sync"

	"github.com/seed-a859fada/medterm/devices/apdu"
	"github.com/seed-a859fada/medterm/devices/psam"
)

// Faults scripts how a virtual card misbehaves.
type Faults struct {
	// PullAfter pulls the card when its PullAfter-th command APDU arrives:
	// that command is never answered and the connection is dropped.
	// 0 never pulls.
	PullAfter int
	// Chain answers READ RECORD with 61xx and hands the record out through
	// GET RESPONSE in parts of Chain bytes; 0 answers records directly.
	Chain int
	// WrongLe answers every READ RECORD with 6Cxx first, so the reader must
	// resend it.
	WrongLe bool
	// Corrupt replaces the record of a tag with these bytes, as read.
	Corrupt map[byte][]byte
	// AccountRecord replaces the financial application's record (SFI 1,
	// record 1) with these bytes, as read: an account number whose check
	// digit is wrong, a template with the wrong tag. It applies to cards
	// with a financial application only.
	AccountRecord []byte
}

// Card is a virtual social-security card.
type Card struct {
	mu         sync.Mutex
	profile    Profile
	faults     Faults
	ef05, ef06 map[byte][]byte
	account    []byte // the financial application's record, nil without one
	key        []byte // 3.0 external-authentication key
	atr        []byte
	tries      int // wrong cryptograms left before the key blocks
	commands   int

	// volatile state, cleared by a reset
	selected bool // SSSE is the current application
	pboc     bool // the financial application is
	current  int  // 5 or 6: the EF selected by identifier, 0 none
	authed   bool
	chal     []byte
	pending  []byte // data waiting for GET RESPONSE
	resent   bool   // WrongLe: the last READ RECORD was answered 6Cxx
}

var _ Applet = (*Card)(nil)

// NewCard writes a profile to a new virtual card.
func NewCard(p Profile, f Faults) (*Card, error) {
	ef05, ef06, err := p.records()
	if err != nil {
		return nil, err
	}
	c := &Card{profile: p, faults: f, ef05: ef05, ef06: ef06, atr: p.ATR, tries: p.AuthTries}
	if c.atr == nil {
		c.atr = p.defaultATR()
	}
	if c.tries == 0 {
		c.tries = 3
	}
	if p.Version == "3.00" {
		if c.key, err = psam.CardKey(p.MasterKey, p.CardID); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrProfile, err)
		}
	}
	if p.AccountNo != "" {
		if c.account, err = p.accountRecord(); err != nil {
			return nil, err
		}
		if f.AccountRecord != nil {
			c.account = bytes.Clone(f.AccountRecord)
		}
	}
	for tag, rec := range f.Corrupt {
		if _, ok := c.ef05[tag]; ok {
			c.ef05[tag] = rec
		} else {
			c.ef06[tag] = rec
		}
	}
	return c, nil
}

// ATR is the card's answer to reset.
func (c *Card) ATR() []byte { return bytes.Clone(c.atr) }

// Reset powers the card off and on: selection, authentication and any
// pending response are gone; the retry counter is not.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.selected, c.pboc, c.current, c.authed, c.chal, c.pending, c.resent = false, false, 0, false, nil, nil, false
}

// Process answers one command APDU.
func (c *Card) Process(raw []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.commands++
	if c.faults.PullAfter > 0 && c.commands == c.faults.PullAfter {
		return nil, ErrPulled
	}
	cmd, err := apdu.ParseCommand(raw)
	if err != nil {
		return sw(apdu.SWWrongLength), nil
	}
	if cmd.INS != 0xC0 {
		c.pending = nil // a response not fetched at once is lost, as on T=0
	}
	if cmd.CLA != 0x00 {
		return sw(apdu.SWWrongClass), nil
	}
	switch cmd.INS {
	case 0xA4:
		return c.sel(cmd), nil
	case 0xB2:
		return c.readRecord(cmd), nil
	case 0xC0:
		return getResponse(&c.pending, cmd, c.faults.Chain), nil
	case 0x84:
		return c.getChallenge(cmd), nil
	case 0x82:
		return c.externalAuthenticate(cmd), nil
	}
	return sw(apdu.SWINSNotSupported), nil
}

func (c *Card) sel(cmd apdu.Command) []byte {
	switch {
	case cmd.P1 == 0x04 && bytes.Equal(cmd.Data, SSSE):
		if c.profile.Blocked {
			c.selected = false
			return sw(apdu.SWBlocked)
		}
		c.selected, c.pboc, c.current, c.authed = true, false, 0, false
		return respondLater(&c.pending, fci(SSSE, c.profile.Version == "3.00"))
	case cmd.P1 == 0x04 && bytes.Equal(cmd.Data, PBOCDebit) && c.account != nil:
		// Another application: SSSE, its file and its authentication
		// are left, as on a real card.
		c.selected, c.pboc, c.current, c.authed = false, true, 0, false
		return respondLater(&c.pending, pbocFCI())
	case (cmd.P1 == 0x00 || cmd.P1 == 0x02) && c.selected && len(cmd.Data) == 2 && cmd.Data[0] == 0xEF:
		switch cmd.Data[1] {
		case 0x05, 0x06:
			c.current = int(cmd.Data[1])
			return sw(apdu.SWOK)
		}
	}
	return sw(apdu.SWFileNotFound)
}

func (c *Card) readRecord(cmd apdu.Command) []byte {
	if c.pboc {
		return c.readAccountRecord(cmd)
	}
	if !c.selected {
		return sw(apdu.SWFileNotFound)
	}
	if cmd.P2&0x07 != 0 { // only "first record with identifier P1" is supported
		return sw(apdu.SWWrongP1P2)
	}
	ef := int(cmd.P2 >> 3)
	if ef == 0 {
		if ef = c.current; ef == 0 {
			return sw(apdu.SWConditions)
		}
	}
	var rec []byte
	switch ef {
	case 5:
		rec = c.ef05[cmd.P1]
	case 6:
		if c.profile.Version == "3.00" && !c.authed {
			return sw(apdu.SWSecurityStatus)
		}
		rec = c.ef06[cmd.P1]
	default:
		return sw(apdu.SWFileNotFound)
	}
	if rec == nil {
		return sw(apdu.SWRecordNotFound)
	}
	return c.answerRecord(cmd, rec)
}

// readAccountRecord reads the financial application by record number
// (P1) and short file identifier (P2 = SFI << 3 | 4), as EMV does.
func (c *Card) readAccountRecord(cmd apdu.Command) []byte {
	switch {
	case cmd.P2&0x07 != 0x04:
		return sw(apdu.SWWrongP1P2)
	case int(cmd.P2>>3) != pbocSFI:
		return sw(apdu.SWFileNotFound)
	case cmd.P1 != pbocRecord:
		return sw(apdu.SWRecordNotFound)
	}
	return c.answerRecord(cmd, c.account)
}

// answerRecord hands out a record as a T=0 card does, with the scripted
// transport quirks.
func (c *Card) answerRecord(cmd apdu.Command, rec []byte) []byte {
	if len(rec) == 0 { // a scripted empty record: nothing but the status
		return sw(apdu.SWOK)
	}
	if c.faults.WrongLe && !c.resent {
		c.resent = true
		return sw(0x6C00 | uint16(len(rec)))
	}
	c.resent = false
	if c.faults.Chain > 0 {
		c.pending = bytes.Clone(rec)
		return sw(0x6100 | uint16(len(rec)))
	}
	if cmd.Le != len(rec) {
		return sw(0x6C00 | uint16(len(rec)))
	}
	return append(bytes.Clone(rec), 0x90, 0x00)
}

func (c *Card) getChallenge(cmd apdu.Command) []byte {
	if !c.selected {
		return sw(apdu.SWConditions)
	}
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return sw(apdu.SWWrongP1P2)
	}
	if cmd.Le != psam.ChallengeSize {
		return sw(apdu.SWWrongLength)
	}
	c.chal = make([]byte, psam.ChallengeSize)
	rand.Read(c.chal)
	return append(bytes.Clone(c.chal), 0x90, 0x00)
}

// swKeyNotFound: referenced data not found, for a key the card lacks.
const swKeyNotFound = 0x6A88

func (c *Card) externalAuthenticate(cmd apdu.Command) []byte {
	chal := c.chal
	c.chal = nil // a challenge answers one attempt only
	switch {
	case !c.selected:
		return sw(apdu.SWConditions)
	case c.key == nil || cmd.P1 != 0 || cmd.P2 != c.profile.KeyID:
		return sw(swKeyNotFound)
	case len(cmd.Data) != psam.CryptogramSize:
		return sw(apdu.SWWrongLength)
	case c.tries == 0:
		return sw(apdu.SWBlocked)
	case chal == nil:
		return sw(apdu.SWConditions)
	}
	want, err := psam.Cryptogram(c.key, chal)
	if err != nil || subtle.ConstantTimeCompare(want, cmd.Data) != 1 {
		c.tries--
		return sw(0x63C0 | uint16(c.tries))
	}
	c.authed = true
	return sw(apdu.SWOK)
}

// Tries is how many wrong cryptograms the card still tolerates.
func (c *Card) Tries() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tries
}

// Commands is how many command APDUs the card has received.
func (c *Card) Commands() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.commands
}

// fci is a minimal file control information for an application: its name,
// and on 3.0 cards the algorithm identifier 9F0C 03 86 01 xx (SM4).
func fci(name []byte, sm4 bool) []byte {
	body := append([]byte{0x84, byte(len(name))}, name...)
	if sm4 {
		body = append(body, 0xA5, 0x06, 0x9F, 0x0C, 0x03, 0x86, 0x01, 0x04)
	}
	return append([]byte{0x6F, byte(len(body))}, body...)
}

func sw(w uint16) []byte { return []byte{byte(w >> 8), byte(w)} }

// respondLater keeps data for GET RESPONSE and announces it with 61xx.
func respondLater(pending *[]byte, data []byte) []byte {
	*pending = data
	return sw(0x6100 | uint16(len(data)))
}

// getResponse hands out pending data: 6Cxx when Le asks for more than is
// left, 61xx when more remains after this part. chunk > 0 caps a part.
func getResponse(pending *[]byte, cmd apdu.Command, chunk int) []byte {
	if len(*pending) == 0 {
		return sw(apdu.SWConditions)
	}
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return sw(apdu.SWWrongP1P2)
	}
	if cmd.Le > len(*pending) {
		return sw(0x6C00 | uint16(len(*pending)))
	}
	n := cmd.Le
	if chunk > 0 {
		n = min(n, chunk)
	}
	part := (*pending)[:n]
	*pending = (*pending)[n:]
	out := bytes.Clone(part)
	if n := len(*pending); n > 0 {
		return append(out, 0x61, byte(min(n, 256)))
	}
	*pending = nil
	return append(out, 0x90, 0x00)
}

package vcard

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/seed-a859fada/medterm/devices/apdu"
	"github.com/seed-a859fada/medterm/devices/psam"
)

// PSAM is a virtual PSAM implementing the command set of package psam,
// with SM4 for real.
type PSAM struct {
	mu      sync.Mutex
	masters map[byte][]byte
	atr     []byte

	selected bool
	cardKey  []byte
	pending  []byte
}

var _ Applet = (*PSAM)(nil)

// NewPSAM returns a PSAM holding these master keys, by key id.
func NewPSAM(masters map[byte][]byte) (*PSAM, error) {
	m := make(map[byte][]byte, len(masters))
	for id, k := range masters {
		if len(k) != psam.KeySize {
			return nil, fmt.Errorf("%w: master key %02X has %d bytes", ErrProfile, id, len(k))
		}
		m[id] = bytes.Clone(k)
	}
	return &PSAM{masters: m, atr: []byte{0x3B, 0x68, 0x00, 0x00, 'P', 'S', 'A', 'M', 0x00, 0x00, 0x00, 0x01}}, nil
}

// ATR is the PSAM's answer to reset.
func (p *PSAM) ATR() []byte { return bytes.Clone(p.atr) }

// Reset forgets the selection and the diversified key.
func (p *PSAM) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.selected, p.cardKey, p.pending = false, nil, nil
}

// Process answers one command APDU.
func (p *PSAM) Process(raw []byte) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd, err := apdu.ParseCommand(raw)
	if err != nil {
		return sw(apdu.SWWrongLength), nil
	}
	if cmd.INS != 0xC0 {
		p.pending = nil
	}
	switch {
	case cmd.CLA == 0x00 && cmd.INS == 0xA4:
		if cmd.P1 != 0x04 || !bytes.Equal(cmd.Data, psam.AID) {
			return sw(apdu.SWFileNotFound), nil
		}
		p.selected, p.cardKey = true, nil
		return respondLater(&p.pending, fci(psam.AID, true)), nil
	case cmd.CLA == 0x00 && cmd.INS == 0xC0:
		return getResponse(&p.pending, cmd, 0), nil
	case cmd.CLA == psam.CLA && cmd.INS == psam.INSDiversify:
		return p.diversify(cmd), nil
	case cmd.CLA == psam.CLA && cmd.INS == psam.INSEncrypt:
		return p.encrypt(cmd), nil
	case cmd.CLA != 0x00 && cmd.CLA != psam.CLA:
		return sw(apdu.SWWrongClass), nil
	}
	return sw(apdu.SWINSNotSupported), nil
}

func (p *PSAM) diversify(cmd apdu.Command) []byte {
	p.cardKey = nil
	if !p.selected {
		return sw(apdu.SWConditions)
	}
	master, ok := p.masters[cmd.P2]
	if cmd.P1 != 0 || !ok {
		return sw(swKeyNotFound)
	}
	key, err := psam.CardKey(master, cmd.Data)
	if err != nil {
		return sw(apdu.SWWrongLength)
	}
	p.cardKey = key
	return sw(apdu.SWOK)
}

func (p *PSAM) encrypt(cmd apdu.Command) []byte {
	if p.cardKey == nil {
		return sw(apdu.SWConditions)
	}
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return sw(apdu.SWWrongP1P2)
	}
	out, err := psam.Cryptogram(p.cardKey, cmd.Data)
	if err != nil {
		return sw(apdu.SWWrongLength)
	}
	// As a T=0 PSAM does: announce the cryptogram, hand it out on
	// GET RESPONSE.
	return respondLater(&p.pending, out)
}

// Package apdu builds ISO 7816-4 command APDUs, parses responses, and
// exchanges them with a card the way a T=0 card needs: it follows 61xx with
// GET RESPONSE and resends after 6Cxx, which PC/SC does not do on every
// platform, and it names every status word in its errors.
package apdu

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Command is a short command APDU.
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte
	// Le is the number of response bytes expected: 1 to 256, or 0 for a
	// command that expects none. 256 is sent as 00.
	Le int
}

// Bytes encodes the command as a short APDU (case 1 to 4).
func (c Command) Bytes() ([]byte, error) {
	if len(c.Data) > 255 {
		return nil, fmt.Errorf("%w: %d data bytes, at most 255", ErrBadCommand, len(c.Data))
	}
	if c.Le < 0 || c.Le > 256 {
		return nil, fmt.Errorf("%w: Le %d out of 0..256", ErrBadCommand, c.Le)
	}
	b := make([]byte, 0, 6+len(c.Data))
	b = append(b, c.CLA, c.INS, c.P1, c.P2)
	if len(c.Data) > 0 {
		b = append(b, byte(len(c.Data)))
		b = append(b, c.Data...)
	}
	if c.Le > 0 {
		b = append(b, byte(c.Le)) // 256 wraps to 00, as ISO 7816-4 encodes it
	}
	return b, nil
}

// String is the command in hex, for test failures and debug logs of
// commands that carry no personal data.
func (c Command) String() string {
	b, err := c.Bytes()
	if err != nil {
		return err.Error()
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

// ParseCommand decodes a short command APDU; the virtual card uses it to
// understand what it is sent.
func ParseCommand(b []byte) (Command, error) {
	if len(b) < 4 {
		return Command{}, fmt.Errorf("%w: %d bytes, need at least 4", ErrBadCommand, len(b))
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
	case len(body) == 1: // case 2
		c.Le = leValue(body[0])
	default:
		lc := int(body[0])
		switch {
		case lc == 0:
			return Command{}, fmt.Errorf("%w: Lc 00 with a body (extended APDUs are not used)", ErrBadCommand)
		case len(body) == 1+lc: // case 3
			c.Data = append([]byte(nil), body[1:]...)
		case len(body) == 2+lc: // case 4
			c.Data = append([]byte(nil), body[1:1+lc]...)
			c.Le = leValue(body[1+lc])
		default:
			return Command{}, fmt.Errorf("%w: Lc %d does not match %d body bytes", ErrBadCommand, lc, len(body))
		}
	}
	return c, nil
}

func leValue(b byte) int {
	if b == 0 {
		return 256
	}
	return int(b)
}

// Response is a response APDU split into its data and status word.
type Response struct {
	Data []byte
	SW   uint16
}

// ParseResponse splits a raw response APDU.
func ParseResponse(raw []byte) (Response, error) {
	if len(raw) < 2 {
		return Response{}, fmt.Errorf("%w: %d bytes", ErrShortResponse, len(raw))
	}
	n := len(raw) - 2
	return Response{Data: raw[:n:n], SW: uint16(raw[n])<<8 | uint16(raw[n+1])}, nil
}

// Bytes encodes the response as data followed by SW1 SW2.
func (r Response) Bytes() []byte {
	b := make([]byte, 0, len(r.Data)+2)
	b = append(b, r.Data...)
	return append(b, byte(r.SW>>8), byte(r.SW))
}

package journal

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/seed-a859fada/medterm/agent"
)

// A record's personal fields are sealed as a list of lengths and bytes
// rather than as JSON (since this version; the JSON of older records is
// read as it was). Sealed, they cannot be compressed: in JSON their names
// cost more than their values, and the ID number was there twice when the
// patient was identified by it. A record is about a tenth smaller.
//
// The layout: personalV1, then each field of agent.Personal in the order
// of personalFields as a uvarint length and its bytes. The ID number's
// length is given plus one, 0 standing for "the same as the certificate
// number". A field added to agent.Personal needs a new version, and its
// test says so.
const personalV1 = 0x01

func personalFields(p *agent.Personal) []*string {
	return []*string{&p.CertNo, &p.IDNo, &p.Name, &p.CardSN, &p.PsnNo, &p.AccountNo, &p.Token}
}

func encodePersonal(p agent.Personal) []byte {
	b := []byte{personalV1}
	for i, f := range personalFields(&p) {
		switch {
		case i == 1 && *f != "" && *f == p.CertNo:
			b = binary.AppendUvarint(b, 0)
			continue
		case i == 1:
			b = binary.AppendUvarint(b, uint64(len(*f))+1)
		default:
			b = binary.AppendUvarint(b, uint64(len(*f)))
		}
		b = append(b, *f...)
	}
	return b
}

var errPersonal = errors.New("malformed personal fields")

func decodePersonal(b []byte, p *agent.Personal) error {
	if len(b) > 0 && b[0] == '{' {
		return json.Unmarshal(b, p)
	}
	if len(b) == 0 || b[0] != personalV1 {
		return fmt.Errorf("%w: unknown layout", errPersonal)
	}
	b = b[1:]
	var out agent.Personal
	for i, f := range personalFields(&out) {
		n, k := binary.Uvarint(b)
		if k <= 0 {
			return fmt.Errorf("%w: field %d", errPersonal, i)
		}
		b = b[k:]
		if i == 1 {
			if n == 0 {
				*f = out.CertNo
				continue
			}
			n--
		}
		if n > uint64(len(b)) {
			return fmt.Errorf("%w: field %d is cut short", errPersonal, i)
		}
		*f, b = string(b[:n]), b[n:]
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d bytes after the last field", errPersonal, len(b))
	}
	*p = out
	return nil
}

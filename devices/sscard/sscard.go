// Package sscard reads the national social-security card (generations
// 1.0, 2.0 and 3.0): it selects the SSSE application, reads the issuance
// data (EF05) and the holder's basic data (EF06) record by record, runs
// the external authentication a 3.0 card needs through a secure module,
// validates everything it reads, and offers the result as JSON and as the
// iReadCardBas string that hospital systems already parse. On a card with
// a financial function it also reads the account number of the UnionPay
// debit application beside SSSE, for the payment leg.
package sscard

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/mask"
	"github.com/seed-a859fada/medterm/devices/apdu"
	"github.com/seed-a859fada/medterm/devices/psam"
)

// Identity is what a card says about itself and its holder. Dates are
// YYYY-MM-DD. It is personal data: log it only through its LogValue.
type Identity struct {
	CardID      string `json:"card_id"` // 32 hex digits
	Region      string `json:"region"`  // issuing region, from the identifier
	CardType    string `json:"card_type"`
	Version     string `json:"version"` // "1.00", "2.00", "3.00"
	Institution string `json:"issuing_institution"`
	IssueDate   string `json:"issue_date"`
	ExpiryDate  string `json:"expiry_date"`
	CardNumber  string `json:"card_number"`
	IDNumber    string `json:"id_number"`
	Name        string `json:"name"`
	Gender      string `json:"gender"`    // GB/T 2261.1: "1" male, "2" female
	Ethnicity   string `json:"ethnicity"` // GB 3304, two digits
	Birthplace  string `json:"birthplace"`
	BirthDate   string `json:"birth_date"`
	ATR         string `json:"atr"` // hex
	// AccountNo is the account number (PAN) of the card's financial
	// application, for the payment leg to debit under the patient's
	// agreement; empty when the card has no financial function or its
	// answers were malformed.
	AccountNo string `json:"account_no,omitempty"`
	// AccountErr says why a card with a financial application gave no
	// account number. It does not fail the read: the identity is good.
	AccountErr error `json:"-"`
}

// LogValue shows what identifies a read in a log without the personal
// data.
func (id Identity) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("card_id", mask.Card(id.CardID)),
		slog.String("version", id.Version),
		slog.String("region", id.Region),
		slog.String("id_number", mask.IDNo(id.IDNumber)),
		slog.String("name", mask.Name(id.Name)),
		slog.String("account_no", mask.PAN(id.AccountNo)),
	)
}

// Card is what a read needs of the connection to the card: its APDUs and
// its answer to reset. A connection that is also an apdu.Transactor is
// held for the whole read.
type Card interface {
	Transmit(ctx context.Context, command []byte) ([]byte, error)
	ATR() []byte
}

// DefaultKeyID is the key a 3.0 card's EXTERNAL AUTHENTICATE names when
// Reader.KeyID is zero.
const DefaultKeyID = 0x04

// SecureModule answers a 3.0 card's external authentication: a PSAM
// (package psam's Module) or a network encryption machine taking the same
// request. The request is the PSAM package's, the one implementation
// there is, so that a Module needs no adapter to sit here.
type SecureModule interface {
	Authenticate(ctx context.Context, req psam.Request) ([]byte, error)
}

// Reader reads cards. The zero value reads 1.0 and 2.0 cards.
type Reader struct {
	// Module answers 3.0 cards' external authentication.
	Module SecureModule
	// KeyID is P2 of EXTERNAL AUTHENTICATE; 0 means DefaultKeyID.
	KeyID byte
	// Clock decides whether a card has expired; nil is the wall clock.
	Clock clock.Clock
}

// china is the zone in which a card's expiry date ends.
var china = time.FixedZone("CST", 8*3600)

// Read reads and validates the card. An expired card is returned with
// ErrCardExpired; any other error returns no identity. A malformed answer
// of the financial application is no error of the read: the identity
// comes back with AccountErr set.
func (r *Reader) Read(ctx context.Context, card Card) (*Identity, error) {
	if t, ok := card.(apdu.Transactor); ok {
		if err := t.BeginTransaction(); err != nil {
			return nil, fmt.Errorf("begin transaction: %w", err)
		}
		defer t.EndTransaction()
	}
	sel := apdu.Command{INS: 0xA4, P1: 0x04, Data: ssse}
	if _, err := apdu.Exchange(ctx, card, sel); err != nil {
		return nil, fmt.Errorf("select SSSE: %w", err)
	}
	id := &Identity{ATR: strings.ToUpper(hex.EncodeToString(card.ATR()))}

	ef05, err := readFields(ctx, card, ef05Fields)
	if err != nil {
		return nil, err
	}
	if err := id.decodeEF05(ef05); err != nil {
		return nil, err
	}
	fields := ef06Fields
	if id.Version != "1.00" {
		fields = append(fields[:2:2], append([]field{fNameExt}, fields[2:]...)...)
	}
	if id.Version == "3.00" {
		if err := r.authenticate(ctx, card, ef05[fCardID.tag], id.Region); err != nil {
			return nil, err
		}
	}
	ef06, err := readFields(ctx, card, fields)
	if err != nil {
		return nil, err
	}
	if err := id.decodeEF06(ef06); err != nil {
		return nil, err
	}
	// Last, as it leaves SSSE: the financial application, whose malformed
	// answers cost the account number only.
	if id.AccountNo, id.AccountErr, err = readAccountNo(ctx, card); err != nil {
		return nil, err
	}
	return id, r.checkExpiry(id)
}

var ssse = []byte{0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF}

// readFields reads each field by tag with its file's short identifier, so
// no file selection is needed and record numbers, which differ between
// card versions, do not matter.
func readFields(ctx context.Context, card apdu.Card, fields []field) (map[byte][]byte, error) {
	out := make(map[byte][]byte, len(fields))
	for _, f := range fields {
		cmd := apdu.Command{INS: 0xB2, P1: f.tag, P2: f.sfi << 3, Le: f.size + 2}
		rec, err := apdu.Exchange(ctx, card, cmd)
		if f == fNameExt && errors.Is(err, apdu.ErrRecordNotFound) {
			continue // a card that never had a long name may lack it
		}
		if err != nil {
			return nil, fmt.Errorf("read %v: %w", f, err)
		}
		v, err := parseRecord(f, rec)
		if err != nil {
			return nil, fmt.Errorf("read %v: %w", f, err)
		}
		out[f.tag] = v
	}
	return out, nil
}

func (r *Reader) authenticate(ctx context.Context, card apdu.Card, cardID []byte, region string) error {
	if r.Module == nil {
		return ErrNoSecureModule
	}
	keyID := r.KeyID
	if keyID == 0 {
		keyID = DefaultKeyID
	}
	chal, err := apdu.Exchange(ctx, card, apdu.Command{INS: 0x84, Le: 8})
	if err != nil {
		return fmt.Errorf("get challenge: %w", err)
	}
	crypt, err := r.Module.Authenticate(ctx, psam.Request{CardID: cardID, Region: region, Challenge: chal, KeyID: keyID})
	if err != nil {
		return fmt.Errorf("secure module: %w", err)
	}
	if _, err := apdu.Exchange(ctx, card, apdu.Command{INS: 0x82, P2: keyID, Data: crypt}); err != nil {
		return fmt.Errorf("external authenticate: %w", err)
	}
	return nil
}

func (r *Reader) checkExpiry(id *Identity) error {
	var now time.Time
	if r.Clock != nil {
		now = r.Clock.Now()
	} else {
		now = time.Now()
	}
	today := now.In(china).Format(time.DateOnly)
	if id.ExpiryDate < today { // YYYY-MM-DD compares as text
		return fmt.Errorf("%w on %s", ErrCardExpired, id.ExpiryDate)
	}
	return nil
}

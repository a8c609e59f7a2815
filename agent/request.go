package agent

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/seed-a859fada/medterm/agent/idno"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// SettleRequest is a bill to settle, as the HIS, the kiosk or the window
// submits it.
type SettleRequest struct {
	// IdempotencyKey is the caller's name for this settlement: the same key
	// twice is the same settlement, never a second charge.
	IdempotencyKey string
	Identity       IdentityInput
	Operator       Operator
	Bill           Bill
	// Mode is the offline mode: prefer_online (default), require_online
	// or force_offline.
	Mode string
}

// IdentityInput is how the patient was identified.
type IdentityInput struct {
	CertType string `json:"cert_type"` // 01 QR code, 02 ID number, 03 social-security card
	CertNo   string `json:"cert_no"`   // the code text, the ID number, or the card number
	Name     string `json:"name,omitempty"`
	IDNo     string `json:"id_no,omitempty"`   // from the card, for cert type 03
	CardSN   string `json:"card_sn,omitempty"` // card identifier, for cert type 03
	// CardReader asks for the card now in this desk's reader (cert type
	// 03, the rest filled in from the card); "desk" means the desk's only
	// or first reader.
	CardReader string `json:"card_reader,omitempty"`
	// Scan asks for the code just scanned at this kiosk (a scan id from
	// the code.scanned event, or "latest"): cert type 01, the code itself.
	Scan string `json:"scan,omitempty"`
	// Verified is set by the agent itself when a signed QR code was
	// verified offline (never taken from a caller): it lets the bill be
	// deferred under the qr_signed trust.
	Verified bool `json:"-"`
	// PersonToken is the verified code's person token: the patient's
	// pseudonymous identity offline.
	PersonToken string `json:"-"`
}

// patientValue is what identifies the patient across bills, for the
// per-patient offline limits: the ID number where known, else the signed
// code's person token, else the certificate number itself.
func (id IdentityInput) patientValue() string {
	switch {
	case id.CertType == protocol.CertIDNo:
		return "id:" + id.CertNo
	case id.IDNo != "":
		return "id:" + id.IDNo
	case id.PersonToken != "":
		return "token:" + id.PersonToken
	}
	return "cert:" + id.CertType + ":" + id.CertNo
}

// Limits on what a request may hold. They bound memory and journal size;
// no outpatient bill comes near them.
const (
	MaxItems    = 500
	MaxKeyLen   = 64
	maxFieldLen = 100
)

// Validate checks a request before anything is stored.
func (r SettleRequest) Validate() error {
	if err := checkKey(r.IdempotencyKey); err != nil {
		return err
	}
	if err := r.Identity.Validate(); err != nil {
		return err
	}
	if err := r.Operator.Validate(); err != nil {
		return err
	}
	switch r.Mode {
	case "", ModePreferOnline, ModeRequireOnline, ModeForceOffline:
	default:
		return fmt.Errorf("%w: mode %q: must be prefer_online, require_online or force_offline", ErrInvalid, r.Mode)
	}
	return r.Bill.Validate()
}

func checkKey(k string) error {
	if k == "" || len(k) > MaxKeyLen {
		return fmt.Errorf("%w: idempotency key must be 1 to %d characters", ErrInvalid, MaxKeyLen)
	}
	for _, c := range k {
		if c > unicode.MaxASCII || !unicode.IsPrint(c) || c == ' ' {
			return fmt.Errorf("%w: idempotency key must be printable ASCII without spaces", ErrInvalid)
		}
	}
	return nil
}

// Validate checks the identity's shape for its certificate type.
func (id IdentityInput) Validate() error {
	switch id.CertType {
	case protocol.CertIDNo:
		if err := idno.Check(id.CertNo); err != nil {
			return fmt.Errorf("%w: cert_no: %v", ErrInvalid, err)
		}
	case protocol.CertSSCard:
		if id.CertNo == "" || len(id.CertNo) > 20 {
			return fmt.Errorf("%w: cert_no: a card number is required", ErrInvalid)
		}
		if len(id.CardSN) != 32 {
			return fmt.Errorf("%w: card_sn: the 32-character card identifier is required", ErrInvalid)
		}
	case protocol.CertQR:
		if id.CertNo == "" || len(id.CertNo) > 1024 {
			return fmt.Errorf("%w: cert_no: the code text is required (at most 1024 characters)", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: cert_type %q: must be 01 (QR code), 02 (ID number) or 03 (card)", ErrInvalid, id.CertType)
	}
	if len(id.Name) > maxFieldLen {
		return fmt.Errorf("%w: name too long", ErrInvalid)
	}
	return nil
}

// Validate checks the operator.
func (o Operator) Validate() error {
	if o.ID == "" || len(o.ID) > 30 {
		return fmt.Errorf("%w: operator id is required (at most 30 characters)", ErrInvalid)
	}
	switch o.Type {
	case protocol.OpterClerk, protocol.OpterKiosk, protocol.OpterMobile:
	default:
		return fmt.Errorf("%w: operator type %q: must be 1 (clerk), 2 (kiosk) or 3 (mobile)", ErrInvalid, o.Type)
	}
	if len(o.Name) > maxFieldLen {
		return fmt.Errorf("%w: operator name too long", ErrInvalid)
	}
	return nil
}

// Validate checks the bill: every item priced exactly (amount = quantity ×
// unit price, to the fen) and the total within bounds.
func (b Bill) Validate() error {
	for name, v := range map[string]string{"visit_no": b.VisitNo, "dept_code": b.DeptCode, "doctor_id": b.DoctorID} {
		if strings.TrimSpace(v) == "" || len(v) > 30 {
			return fmt.Errorf("%w: bill %s is required (at most 30 characters)", ErrInvalid, name)
		}
	}
	if len(b.Items) == 0 || len(b.Items) > MaxItems {
		return fmt.Errorf("%w: a bill has 1 to %d items", ErrInvalid, MaxItems)
	}
	var total money.Fen
	for i, it := range b.Items {
		if it.Code == "" || len(it.Code) > 50 || len(it.HospCode) > 50 || len(it.Name) > maxFieldLen {
			return fmt.Errorf("%w: item %d: code is required (at most 50 characters)", ErrInvalid, i+1)
		}
		switch it.Class {
		case protocol.ClassA, protocol.ClassB, protocol.ClassC:
		default:
			return fmt.Errorf("%w: item %d: class %q must be 01, 02 or 03", ErrInvalid, i+1, it.Class)
		}
		if it.Quantity <= 0 || it.Quantity > 10000 {
			return fmt.Errorf("%w: item %d: quantity must be 1 to 10000", ErrInvalid, i+1)
		}
		if it.UnitPrice < 0 || it.UnitPrice > money.Max {
			return fmt.Errorf("%w: item %d: unit price out of range", ErrInvalid, i+1)
		}
		if it.Amount != money.Fen(it.Quantity)*it.UnitPrice {
			return fmt.Errorf("%w: item %d: amount %s is not quantity %d × unit price %s", ErrInvalid, i+1, it.Amount, it.Quantity, it.UnitPrice)
		}
		total += it.Amount
		if total > money.Max {
			return fmt.Errorf("%w: bill total over %s", ErrInvalid, money.Max)
		}
	}
	return nil
}

// fingerprintContent is what identifies a request, so that a key reused
// for another bill or another patient is refused rather than answered with
// the first settlement. It holds personal data: only the journal's keyed
// digest of it (Journal.Fingerprint) is ever stored.
func (r SettleRequest) fingerprintContent() []byte {
	b, _ := json.Marshal(struct {
		Identity IdentityInput `json:"identity"`
		Bill     Bill          `json:"bill"`
	}{r.Identity, r.Bill})
	return b
}

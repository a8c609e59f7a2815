package agent

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/seed-a859fada/medterm/agent/idno"
	"github.com/seed-a859fada/medterm/agent/money"
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
	// AccountNo is the card's own financial account, read at the desk.
	AccountNo string `json:"-"`
	// Token is the e-voucher component's token for a national code.
	Token string `json:"-"`
	// PsnNo, Insutype and Insuplc are the patient as 1101 already told
	// the kiosk (it looked the patient up to list the held bills): the
	// platform takes a code once, so the settlement does not send 1101
	// again.
	PsnNo, Insutype, Insuplc string `json:"-"`
}

// patientValue is what identifies the patient across bills, for the
// per-patient offline limits: the ID number where known, else the signed
// code's person token, else the certificate number itself.
func (id IdentityInput) patientValue() string {
	switch {
	case id.CertType == CertIDNo:
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
	MaxQuantity = 10000
	maxFieldLen = 100 // bytes, for text no national field holds
	// MaxReasonLen bounds a refund or void reason, in bytes as Refund
	// counts it: it goes into the journal only.
	MaxReasonLen = maxFieldLen
)

// Bounds of the text fields, in characters: each is the length of the
// national-interface field it is sent in (named after the field), so that
// the platform never truncates or declines what the agent accepted.
// Fields that go nowhere but the agent are bounded by what they can hold.
const (
	MaxNameLen         = 50   // psn_name
	MaxIDNoLen         = 50   // certno
	MaxCardNoLen       = 20   // mdtrt_cert_no, for a social-security card number
	CardSNLen          = 32   // card_sn, exactly
	MaxCodeTextLen     = 1024 // mdtrt_cert_no, for an electronic-credential code
	MaxOperatorIDLen   = 30   // opter
	MaxOperatorNameLen = 50   // opter_name
	MaxVisitNoLen      = 30   // ipt_otp_no
	MaxDeptCodeLen     = 30   // dept_code
	MaxDeptCategoryLen = 10   // caty
	MaxReferenceLen    = 64   // a WeChat, Alipay or POS transaction number
	MaxDeptNameLen     = 100  // dept_name
	MaxDoctorIDLen     = 30   // atddr_no
	MaxDoctorNameLen   = 50   // dr_name
	MaxItemCodeLen     = 50   // med_list_codg, medins_list_codg
	MaxItemNameLen     = 100  // medins_list_name
	MaxReaderLen       = 128  // a PC/SC reader name; the agent's own
	MaxScanLen         = 64   // a scan id; the agent's own
)

// Validate checks a request before anything is stored. Its errors name the
// field as a JSON path of the API's body ("bill.items[2].name") and never
// quote the value, which may be personal data.
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
		return fmt.Errorf("%w: mode must be prefer_online, require_online or force_offline", ErrInvalid)
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

// checkText checks a text field: valid UTF-8 without NUL (the decoder
// refuses both at the door; requests built inside the agent pass here
// too), at most max characters, and not blank if required.
func checkText(field, s string, max int, required bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return fmt.Errorf("%w: %s is required (at most %d characters)", ErrInvalid, field, max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, field)
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("%w: %s contains NUL", ErrInvalid, field)
	case utf8.RuneCountInString(s) > max:
		return fmt.Errorf("%w: %s is longer than %d characters", ErrInvalid, field, max)
	}
	return nil
}

// Validate checks the identity's shape for its certificate type.
func (id IdentityInput) Validate() error {
	switch id.CertType {
	case CertIDNo:
		if err := idno.Check(id.CertNo); err != nil {
			return fmt.Errorf("%w: identity.cert_no: %v", ErrInvalid, err)
		}
	case CertSSCard:
		if err := checkText("identity.cert_no", id.CertNo, MaxCardNoLen, true); err != nil {
			return err
		}
		if len(id.CardSN) != CardSNLen {
			return fmt.Errorf("%w: identity.card_sn: the %d-character card identifier is required", ErrInvalid, CardSNLen)
		}
	case CertEVoucher:
		if err := checkText("identity.cert_no", id.CertNo, MaxCodeTextLen, true); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: identity.cert_type must be 01 (QR code), 02 (ID number) or 03 (card)", ErrInvalid)
	}
	if err := checkText("identity.name", id.Name, MaxNameLen, false); err != nil {
		return err
	}
	if err := checkText("identity.id_no", id.IDNo, MaxIDNoLen, false); err != nil {
		return err
	}
	return id.ValidateSource()
}

// ValidateSource checks the fields that say where the identity is to come
// from (a desk's reader, a kiosk's scan). They are read before the
// identity itself is known, so the API checks them at its door.
func (id IdentityInput) ValidateSource() error {
	if err := checkText("identity.card_reader", id.CardReader, MaxReaderLen, false); err != nil {
		return err
	}
	return checkText("identity.scan", id.Scan, MaxScanLen, false)
}

// ValidateReason checks the reason given for a refund or a void. Refund
// checks its length itself but Void does not, so the API checks both at
// its door.
func ValidateReason(reason string) error {
	if len(reason) > MaxReasonLen {
		return fmt.Errorf("%w: reason is longer than %d bytes", ErrInvalid, MaxReasonLen)
	}
	return checkText("reason", reason, MaxReasonLen, false)
}

// Validate checks the operator.
func (o Operator) Validate() error {
	if err := checkText("operator.id", o.ID, MaxOperatorIDLen, true); err != nil {
		return err
	}
	switch o.Type {
	case OpterClerk, OpterKiosk, OpterMobile:
	default:
		return fmt.Errorf("%w: operator.type must be 1 (clerk), 2 (kiosk) or 3 (mobile)", ErrInvalid)
	}
	return checkText("operator.name", o.Name, MaxOperatorNameLen, false)
}

// Validate checks the bill: every text within its national field, every
// item priced exactly (amount = quantity × unit price, to the fen, the
// price more than zero: the platform declines a free item after it was
// journaled) and the total within bounds.
func (b Bill) Validate() error {
	for _, f := range []struct {
		field, value string
		max          int
		required     bool
	}{
		{"bill.visit_no", b.VisitNo, MaxVisitNoLen, true},
		{"bill.dept_code", b.DeptCode, MaxDeptCodeLen, true},
		{"bill.dept_category", b.DeptCategory, MaxDeptCategoryLen, false},
		{"bill.dept_name", b.DeptName, MaxDeptNameLen, false},
		{"bill.doctor_id", b.DoctorID, MaxDoctorIDLen, true},
		{"bill.doctor_name", b.DoctorName, MaxDoctorNameLen, false},
	} {
		if err := checkText(f.field, f.value, f.max, f.required); err != nil {
			return err
		}
	}
	if len(b.Items) == 0 || len(b.Items) > MaxItems {
		return fmt.Errorf("%w: bill.items: a bill has 1 to %d items", ErrInvalid, MaxItems)
	}
	var total money.Fen
	for i, it := range b.Items {
		at := fmt.Sprintf("bill.items[%d].", i)
		if err := checkText(at+"code", it.Code, MaxItemCodeLen, true); err != nil {
			return err
		}
		if err := checkText(at+"hosp_code", it.HospCode, MaxItemCodeLen, false); err != nil {
			return err
		}
		if err := checkText(at+"name", it.Name, MaxItemNameLen, false); err != nil {
			return err
		}
		switch it.Class {
		case "", ClassA, ClassB, ClassC:
		default:
			return fmt.Errorf("%w: %sclass must be 01, 02 or 03 when given", ErrInvalid, at)
		}
		switch it.HospApproval {
		case "", "0", "1", "2":
		default:
			return fmt.Errorf("%w: %shosp_approval must be 0, 1 or 2 when given", ErrInvalid, at)
		}
		if it.Quantity <= 0 || it.Quantity > money.MaxQuantity {
			return fmt.Errorf("%w: %squantity must be more than 0 and at most %s", ErrInvalid, at, money.MaxQuantity)
		}
		switch {
		case it.UnitPrice != 0 && it.UnitPriceFen != 0:
			return fmt.Errorf("%w: %sunit_price: give the price once, in yuan (unit_price) or in fen (unit_price_fen)", ErrInvalid, at)
		case it.UnitPrice == 0 && it.UnitPriceFen <= 0:
			return fmt.Errorf("%w: %sunit_price_fen (or unit_price, in yuan to six decimals) must be more than 0", ErrInvalid, at)
		case it.UnitPriceFen < 0 || it.UnitPriceFen > money.Max:
			return fmt.Errorf("%w: %sunit_price_fen must be 1 to %d", ErrInvalid, at, int64(money.Max))
		case it.UnitPrice < 0 || it.UnitPrice > money.MaxPrice:
			return fmt.Errorf("%w: %sunit_price must be more than 0 and at most %s", ErrInvalid, at, money.MaxPrice)
		}
		if it.Amount != money.LineAmount(it.Quantity, it.price()) {
			return fmt.Errorf("%w: %samount_fen must be quantity × unit price, rounded half up to the fen", ErrInvalid, at)
		}
		total += it.Amount
		if total > money.Max {
			return fmt.Errorf("%w: bill.items: the total is over %s", ErrInvalid, money.Max)
		}
	}
	return nil
}

// earlierFingerprints are req's fingerprints as journals before schema v5
// stored them (the bill in its v4 encoding), when the bill can be written
// so: whole quantities, prices in whole fen, every class given.
func (s *Service) earlierFingerprints(req SettleRequest) []string {
	type v4Item struct {
		Code      string    `json:"code"`
		HospCode  string    `json:"hosp_code"`
		Name      string    `json:"name"`
		Class     string    `json:"class"`
		Quantity  int64     `json:"quantity"`
		UnitPrice money.Fen `json:"unit_price_fen"`
		Amount    money.Fen `json:"amount_fen"`
	}
	type v4Bill struct {
		VisitNo    string   `json:"visit_no"`
		DeptCode   string   `json:"dept_code"`
		DeptName   string   `json:"dept_name"`
		DoctorID   string   `json:"doctor_id"`
		DoctorName string   `json:"doctor_name"`
		Items      []v4Item `json:"items"`
	}
	b := req.Bill
	if b.DeptCategory != "" {
		return nil
	}
	old := v4Bill{VisitNo: b.VisitNo, DeptCode: b.DeptCode, DeptName: b.DeptName, DoctorID: b.DoctorID, DoctorName: b.DoctorName}
	for _, it := range b.Items {
		p := it.price()
		if it.Quantity%10_000 != 0 || p%10_000 != 0 || it.Class == "" || it.OutsidePrescription || it.HospApproval != "" {
			return nil
		}
		old.Items = append(old.Items, v4Item{Code: it.Code, HospCode: it.HospCode, Name: it.Name, Class: it.Class,
			Quantity: int64(it.Quantity / 10_000), UnitPrice: money.Fen(p / 10_000), Amount: it.Amount})
	}
	content, _ := json.Marshal(struct {
		Identity IdentityInput `json:"identity"`
		Bill     v4Bill        `json:"bill"`
	}{req.Identity, old})
	return []string{s.journal.Fingerprint(content)}
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

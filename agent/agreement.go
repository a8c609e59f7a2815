package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/seed-a859fada/medterm/agent/idno"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/agent/pan"
)

// Signing up for password-free payment at the window and at the kiosk
// (Ningbo 004: 签约途径: 医疗机构收费窗口; 医疗机构自助机): at the window
// the cashier confirms, at the kiosk the patient does it alone, through
// the payment port's signing calls. The patient is whoever the card, the
// scan or the ID number says.

// The rollout's password-free limits: a patient may set lower ones.
const (
	RolloutPerPayment = money.Fen(300_00)
	RolloutDaily      = money.Fen(1000_00)
)

// SignUp is a patient signing a source for password-free payment.
type SignUp struct {
	Identity IdentityInput
	// Kind is SourceCardAccount (the social-security card's own financial
	// account: the card must be in the reader) or SourceBankCard.
	Kind string
	// CardNo is the bank card's number, for SourceBankCard.
	CardNo       string
	AccountFirst bool
	Operator     Operator
}

// agreementPatient is who identity names, as the payment channel knows a
// patient, and the card's own account when the card is in the reader.
func (s *Service) agreementPatient(ctx context.Context, id IdentityInput) (AgreementQuery, string, error) {
	if s.payment == nil {
		return AgreementQuery{}, "", fmt.Errorf("%w: this terminal has no payment channel: the patient pays at the window", ErrInvalid)
	}
	switch {
	case id.CardReader != "":
		in, err := s.cardIdentity(id.CardReader)
		if err != nil {
			return AgreementQuery{}, "", err
		}
		return AgreementQuery{IDNo: in.IDNo, Name: in.Name}, in.AccountNo, nil
	case id.Scan != "":
		idNo, err := s.scanHolder(ctx, id.Scan)
		if err != nil {
			return AgreementQuery{}, "", err
		}
		name := ""
		if sc, err := s.kiosk.get(id.Scan); err == nil && sc.person != nil {
			name = sc.person.Name
		}
		return AgreementQuery{IDNo: idNo, Name: name}, "", nil
	case id.CertType == CertIDNo:
		if err := idno.Check(id.CertNo); err != nil {
			return AgreementQuery{}, "", fmt.Errorf("%w: identity.cert_no: %w", ErrInvalid, err)
		}
		return AgreementQuery{IDNo: id.CertNo, Name: id.Name}, "", nil
	}
	return AgreementQuery{}, "", fmt.Errorf("%w: identity: a scan, a card_reader, or cert_type 02 with the ID number", ErrInvalid)
}

// RefuseNoAgreement: the patient has not signed.
const RefuseNoAgreement = "NO_AGREEMENT"

func noAgreement(err error) error {
	return refused(ErrNotFound, RefuseNoAgreement, "未签约无感支付，可在本机签约或到窗口缴费", "no password-free agreement: sign here, or pay at the window", err)
}

// PatientAgreement is the agreement of the patient identity names.
func (s *Service) PatientAgreement(ctx context.Context, id IdentityInput) (Agreement, error) {
	q, _, err := s.agreementPatient(ctx, id)
	if err != nil {
		return Agreement{}, err
	}
	a, err := s.payment.Agreement(ctx, q)
	if errors.Is(err, ErrNoAgreement) {
		return Agreement{}, noAgreement(err)
	}
	return a, err
}

// Sign binds a source for the patient.
func (s *Service) Sign(ctx context.Context, r SignUp) (Agreement, error) {
	if err := r.Operator.Validate(); err != nil {
		return Agreement{}, err
	}
	q, account, err := s.agreementPatient(ctx, r.Identity)
	if err != nil {
		return Agreement{}, err
	}
	src := PaySource{Kind: r.Kind}
	switch r.Kind {
	case SourceCardAccount:
		if account == "" {
			return Agreement{}, refused(ErrInvalid, "NO_CARD_ACCOUNT", "此社保卡无金融账户，请用银行卡签约", "this card has no financial account; sign a bank card instead",
				errors.New("no card account: the card in the reader has no financial function"))
		}
		src.Token = account
	case SourceBankCard:
		if !pan.Luhn(r.CardNo) || len(r.CardNo) < 12 || len(r.CardNo) > 19 {
			return Agreement{}, refused(ErrInvalid, "BAD_CARD_NUMBER", "银行卡号有误，请核对", "the bank card number is not valid; please check it",
				errors.New("card_no: not a card number (length or check digit)"))
		}
		src.Token = r.CardNo
	default:
		return Agreement{}, fmt.Errorf("%w: source: card_account or bank_card", ErrInvalid)
	}
	return s.payment.Sign(ctx, SignRequest{Patient: q, Source: src, AccountFirst: r.AccountFirst, Operator: r.Operator})
}

// LowerLimits sets the patient's own password-free limits, lower than the
// rollout's (zero keeps one as it is).
func (s *Service) LowerLimits(ctx context.Context, id IdentityInput, perPayment, daily money.Fen, op Operator) (Agreement, error) {
	if err := op.Validate(); err != nil {
		return Agreement{}, err
	}
	if perPayment < 0 || daily < 0 || (perPayment == 0 && daily == 0) || perPayment >= RolloutPerPayment || daily >= RolloutDaily ||
		(perPayment > 0 && daily > 0 && perPayment > daily) {
		return Agreement{}, refused(ErrInvalid, "BAD_LIMITS", "限额须低于单笔300元、单日1000元，且单笔不高于单日", "limits must be below 300 CNY a payment and 1,000 a day, a payment's not above a day's",
			fmt.Errorf("limits %s a payment, %s a day", perPayment, daily))
	}
	a, err := s.PatientAgreement(ctx, id)
	if err != nil {
		return Agreement{}, err
	}
	return s.payment.SetLimits(ctx, LimitsRequest{AgreementRef: AgreementRef{AgreementID: a.ID, Operator: op}, PerPayment: perPayment, Daily: daily})
}

// EndAgreement cancels the patient's agreement.
func (s *Service) EndAgreement(ctx context.Context, id IdentityInput, op Operator) error {
	if err := op.Validate(); err != nil {
		return err
	}
	a, err := s.PatientAgreement(ctx, id)
	if err != nil {
		return err
	}
	return s.payment.CancelAgreement(ctx, AgreementRef{AgreementID: a.ID, Operator: op})
}

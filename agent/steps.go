package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/seed-a859fada/medterm/agent/money"
)

// The steps of the insurance leg before and at the settlement request.

// settleSteps are the requests of an online settlement whose msgids are
// all allocated when the settlement is accepted, so that every step can
// be resent under the same msgid after any crash, and no step needs a
// write of its own to allocate one: the insurance leg's, both
// pre-settlements (only one is sent, as the agreement decides), and the
// payment's first order. Allocated together, they take one entry of the
// journal's msgid index (a run), however many they are.
var settleSteps = []string{StepIdentify, StepRegister, StepUpload, StepPreSettle, StepPreCredit, StepSettle, StepPayOrder}

// prepared is what the steps before 2207 learnt.
type prepared struct {
	person            Person
	insutype, insuplc string
	mdtrtID           string
	lines             []LineResult
	split             InsuranceSplit
	pay               PaymentLeg
	agreement         *lookedUp // for the payment after the booking
}

func (p prepared) apply(st *Settlement) {
	st.Personal.PsnNo = p.person.PsnNo
	if st.Personal.IDNo == "" {
		st.Personal.IDNo = p.person.IDNo
	}
	if st.Personal.Name == "" {
		st.Personal.Name = p.person.Name
	}
	st.Insutype, st.InsuplcAdmdvs, st.MdtrtID = p.insutype, p.insuplc, p.mdtrtID
	st.Lines, st.Split = p.lines, p.split
	st.Pay = p.pay
}

// exchange is the Exchange of st's request at step.
func exchange(st *Settlement, step string) (Exchange, error) {
	m := st.Msgids[step]
	if m == "" {
		return Exchange{}, fmt.Errorf("%s: no msgid allocated", step)
	}
	return Exchange{Msgid: m, Operator: st.Operator, Region: st.InsuplcAdmdvs}, nil
}

// prepare identifies the patient, looks up the agreement, registers the
// visit, uploads the lines and pre-settles, the way the agreement asks
// (account first or not).
func (s *Service) prepare(ctx context.Context, st *Settlement) (prepared, error) {
	var p prepared
	if st.Personal.PsnNo != "" && st.Insutype != "" {
		// Identified by an earlier run (settled again after a reversal):
		// the person query is not sent again. Its replay would carry what
		// the first answer taught us (the name), and the platform refuses a
		// used msgid with a different request.
		p.person = Person{PsnNo: st.Personal.PsnNo, IDNo: st.Personal.IDNo, Name: st.Personal.Name}
		p.insutype, p.insuplc = st.Insutype, st.InsuplcAdmdvs
	} else {
		if err := s.resolveEVoucher(ctx, st); err != nil {
			return p, err
		}
		x, err := exchange(st, StepIdentify)
		if err != nil {
			return p, err
		}
		certNo := st.Personal.CertNo
		if st.Personal.Token != "" {
			certNo = st.Personal.Token
		}
		p.person, err = s.insurance.Identify(ctx, IdentifyRequest{Exchange: x,
			CertType: st.CertType, CertNo: certNo, CardSN: st.Personal.CardSN,
			IDNo: st.Personal.IDNo, Name: st.Personal.Name, At: st.CreatedAt})
		if err != nil {
			return p, err
		}
		insu, ok := p.person.Active()
		if !ok || p.person.PsnNo == "" {
			return p, &Refusal{Op: StepIdentify, Kind: RefusedProcessed, Message: "the platform knows no insurance of this patient"}
		}
		p.insutype, p.insuplc = insu.Type, insu.Region
	}
	// The agreement decides only the pre-settlement (account first or
	// not): it is looked up while the visit is registered and the fees
	// uploaded, so that the round trip to the payment channel does not add
	// to the patient's wait, nor to a drained bill's.
	var leg PaymentLeg
	var known *lookedUp
	looked := make(chan struct{})
	go func() {
		defer close(looked)
		leg, known = s.agreementFor(ctx, st, p.person, p.insuplc)
	}()

	x, err := exchange(st, StepRegister)
	if err != nil {
		return p, err
	}
	x.Region = p.insuplc
	visit, err := s.insurance.Register(ctx, RegisterRequest{Exchange: x,
		PsnNo: p.person.PsnNo, Insutype: p.insutype, CertType: st.CertType, CertNo: st.certNo(), CardSN: st.Personal.CardSN,
		VisitNo: st.Bill.VisitNo, DoctorID: st.Bill.DoctorID, DoctorName: st.Bill.DoctorName,
		DeptCode: st.Bill.DeptCode, DeptName: st.Bill.DeptName, DeptCategory: st.Bill.deptCategory(), At: st.CreatedAt})
	if err != nil {
		return p, err
	}
	p.mdtrtID = visit.MdtrtID

	if x, err = exchange(st, StepUpload); err != nil {
		return p, err
	}
	x.Region = p.insuplc
	lines := make([]FeeLine, len(st.Bill.Items))
	for i, it := range st.Bill.Items {
		lines[i] = FeeLine{Seq: fmt.Sprintf("%s-%03d", st.ID, i+1), Code: it.Code, HospCode: it.HospCode,
			Quantity: it.Quantity, Price: it.price(), Amount: it.Amount,
			OutsidePrescription: it.OutsidePrescription, HospApproval: it.HospApproval}
	}
	p.lines, err = s.insurance.UploadFees(ctx, FeesRequest{Exchange: x, PsnNo: p.person.PsnNo, MdtrtID: p.mdtrtID, Batch: st.ID,
		At: st.CreatedAt, DeptCode: st.Bill.DeptCode, DeptName: st.Bill.DeptName, DoctorID: st.Bill.DoctorID, DoctorName: st.Bill.DoctorName,
		Lines: lines})
	if err != nil {
		return p, err
	}
	if len(p.lines) != len(lines) {
		return p, fmt.Errorf("%w: 2204 answered %d lines for %d sent", ErrUnbalanced, len(p.lines), len(lines))
	}

	<-looked
	p.pay, p.agreement = leg, known
	q := s.splitRequest(st, p.person.PsnNo, p.insutype, p.mdtrtID, p.insuplc)
	q.UseAccount = p.pay.AccountFirst
	if p.split, err = s.preSettle(ctx, st, preSettleStep(q.UseAccount), q); err != nil {
		return p, err
	}
	if p.pay.AccountFirst && p.split.Account > 0 && p.split.Cash > 0 && p.pay.hasCredit() {
		// The account would pay only part of the patient's share: the
		// whole share goes to the credit line instead, never a half
		// payment (the Guangzhou rule).
		q.UseAccount = false
		if p.split, err = s.preSettle(ctx, st, preSettleStep(q.UseAccount), q); err != nil {
			return p, err
		}
		p.pay.CreditWhole = true
	}
	p.pay.Amount = p.split.Cash
	return p, nil
}

// resolveEVoucher asks the e-voucher component for the token of a national
// code (one not verified here as our own signed format), and stores it
// before 1101 is sent: every resend of 1101 must carry the same token.
func (s *Service) resolveEVoucher(ctx context.Context, st *Settlement) error {
	if s.evoucher == nil || st.CertType != CertEVoucher || st.Offline == TrustQRSigned || st.Personal.Token != "" {
		return nil
	}
	business := EVoucherSettle
	h, err := s.evoucher.Query(ctx, EVoucherQuery{Code: st.Personal.CertNo, BusinessType: business,
		OperatorID: st.Operator.ID, OperatorName: st.Operator.Name, DeptID: st.Bill.DeptCode, DeptName: st.Bill.DeptName,
		Kiosk: st.Operator.Type == OpterKiosk})
	if err != nil {
		return fmt.Errorf("e-voucher: %w", err)
	}
	stored, err := s.update(ctx, st.ID, func(rec *Settlement, _ MsgidAllocator) error {
		rec.Personal.Token = h.Token
		if rec.Personal.IDNo == "" {
			rec.Personal.IDNo = h.IDNo
		}
		if rec.Personal.Name == "" {
			rec.Personal.Name = h.Name
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record the e-voucher token: %w", err)
	}
	st.Personal = stored.Personal
	return nil
}

// preSettleStep is the step, and so the msgid, of a pre-settlement with
// or without the personal account. Each msgid is only ever sent with one
// acct_used_flag: the agreement that decides it may answer differently
// when the bill is prepared again (the channel away the first time, back
// after a reversal or a restart), and the platform refuses a msgid it
// knows with a different request.
func preSettleStep(useAccount bool) string {
	if useAccount {
		return StepPreSettle
	}
	return StepPreCredit
}

// preSettle sends one pre-settlement and checks its split.
func (s *Service) preSettle(ctx context.Context, st *Settlement, step string, q SplitRequest) (InsuranceSplit, error) {
	if st.Msgids[step] == "" {
		// Accepted by a version that did not allocate it: stored before
		// it is sent.
		stored, err := s.update(ctx, st.ID, func(rec *Settlement, ids MsgidAllocator) error {
			id, err := ids.Next()
			rec.Msgids[step] = id
			return err
		})
		if err != nil {
			return InsuranceSplit{}, fmt.Errorf("allocate a msgid: %w", err)
		}
		st.Msgids = stored.Msgids
	}
	x, err := exchange(st, step)
	if err != nil {
		return InsuranceSplit{}, err
	}
	x.Region = q.Region
	q.Exchange = x
	sp, err := s.insurance.PreSettle(ctx, q)
	if err != nil {
		return sp, err
	}
	return sp, checkSplit(sp, st.Bill.Total())
}

func (s *Service) splitRequest(st *Settlement, psnNo, insutype, mdtrtID, region string) SplitRequest {
	return SplitRequest{Exchange: Exchange{Operator: st.Operator, Region: region},
		PsnNo: psnNo, Insutype: insutype, MdtrtID: mdtrtID, Batch: st.ID,
		CertType: st.CertType, CertNo: st.certNo(), CardSN: st.Personal.CardSN, Total: st.Bill.Total()}
}

// certNo is what identifies the patient to the platform: the e-voucher's
// token for a national code, otherwise the number given.
func (st *Settlement) certNo() string {
	if st.Personal.Token != "" {
		return st.Personal.Token
	}
	return st.Personal.CertNo
}

// deptCategory is the department's category (caty): the HIS's department
// code, which hospitals map to the national department codes.
func (b Bill) deptCategory() string {
	if b.DeptCategory != "" {
		return b.DeptCategory
	}
	return b.DeptCode
}

// settle sends 2207 under its msgid: the insured part booked.
func (s *Service) settle(ctx context.Context, st *Settlement) (Booking, error) {
	x, err := exchange(st, StepSettle)
	if err != nil {
		return Booking{}, err
	}
	q := s.splitRequest(st, st.Personal.PsnNo, st.Insutype, st.MdtrtID, st.InsuplcAdmdvs)
	q.Exchange = x
	q.UseAccount = st.Pay.AccountFirst && !st.Pay.CreditWhole
	q.Pre, q.InvoiceNo = st.Split, st.ID
	b, err := s.insurance.Settle(ctx, q)
	if err != nil {
		return b, err
	}
	if err := checkSplit(b.Split, st.Bill.Total()); err != nil {
		return b, err
	}
	if b.SetlID == "" {
		return b, fmt.Errorf("%w: 2207 answer has no settlement id", ErrUnbalanced)
	}
	return b, nil
}

// checkSplit refuses a split that does not balance or is not the bill's:
// it is not a receipt.
func checkSplit(sp InsuranceSplit, billTotal money.Fen) error {
	if !sp.Balanced() {
		return fmt.Errorf("%w: %s", ErrUnbalanced, sp)
	}
	if sp.Total != billTotal && sp.Total != -billTotal {
		return fmt.Errorf("%w: platform total %s ≠ bill total %s", ErrUnbalanced, sp.Total, billTotal)
	}
	return nil
}

// String renders a split for notes and logs (amounts only, no person).
func (sp InsuranceSplit) String() string {
	out := fmt.Sprintf("total %s = fund %s + account %s + cash %s", sp.Total, sp.Fund, sp.Account, sp.Cash)
	if sp.Hospital != 0 {
		out += fmt.Sprintf(" + hospital %s", sp.Hospital)
	}
	return out
}

// refusal returns err's *Refusal, if it is one.
func refusal(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}

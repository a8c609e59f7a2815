package agent

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// The steps of an online settlement before and at the settlement request,
// and the conversion of the platform's answers into the core's terms.

// prepared is what the steps before 2207 learnt.
type prepared struct {
	psnNo, idNo, name string
	insutype, insuplc string
	mdtrtID           string
	split             Split
	plan              Payment
}

func (p prepared) apply(st *Settlement) {
	st.Personal.PsnNo = p.psnNo
	if st.Personal.IDNo == "" {
		st.Personal.IDNo = p.idNo
	}
	if st.Personal.Name == "" {
		st.Personal.Name = p.name
	}
	st.Insutype, st.InsuplcAdmdvs, st.MdtrtID = p.insutype, p.insuplc, p.mdtrtID
	st.Split = p.split
	st.Payment = p.plan
}

// prepare identifies the patient, registers the visit, uploads the fees and
// pre-settles.
func (s *Service) prepare(ctx context.Context, st *Settlement) (prepared, error) {
	var p prepared
	if st.Personal.PsnNo != "" && st.Insutype != "" {
		// Identified by an earlier run (settled again after a reversal):
		// the person query is not sent again. Its replay would carry what
		// the first answer taught us (the name), and the platform refuses a
		// used msgid with a different request.
		p.psnNo, p.idNo, p.name = st.Personal.PsnNo, st.Personal.IDNo, st.Personal.Name
		p.insutype, p.insuplc = st.Insutype, st.InsuplcAdmdvs
	} else {
		info, err := call(ctx, s, st, protocol.PersonInfo, "", protocol.PersonInfoInput{Data: protocol.PersonQuery{
			MdtrtCertType: st.CertType, MdtrtCertNo: st.Personal.CertNo, CardSn: st.Personal.CardSN,
			Begntime: protocol.FormatInfTime(st.CreatedAt), PsnCertType: "01",
			Certno: st.Personal.IDNo, PsnName: st.Personal.Name,
		}})
		if err != nil {
			return p, err
		}
		p.psnNo, p.idNo, p.name = info.Baseinfo.PsnNo, info.Baseinfo.Certno, info.Baseinfo.PsnName
		insu, ok := activeInsurance(info.Insuinfo)
		if !ok || p.psnNo == "" {
			return p, &protocol.Error{Infno: protocol.PersonInfo.Infno, Code: protocol.CodeNotInsured, Message: "no insurance record in the answer"}
		}
		p.insutype, p.insuplc = insu.Insutype, insu.InsuplcAdmdvs
	}

	reg, err := call(ctx, s, st, protocol.Register, p.insuplc, protocol.RegisterInput{Data: protocol.RegisterData{
		PsnNo: p.psnNo, Insutype: p.insutype, Begntime: protocol.FormatInfTime(st.CreatedAt),
		MdtrtCertType: st.CertType, MdtrtCertNo: st.Personal.CertNo, IptOtpNo: st.Bill.VisitNo,
		AtddrNo: st.Bill.DoctorID, DrName: st.Bill.DoctorName, DeptCode: st.Bill.DeptCode, DeptName: st.Bill.DeptName,
	}})
	if err != nil {
		return p, err
	}
	p.mdtrtID = reg.Data.MdtrtID

	fees := make([]protocol.FeeDetail, len(st.Bill.Items))
	for i, it := range st.Bill.Items {
		fees[i] = protocol.FeeDetail{
			FeedetlSn: fmt.Sprintf("%s-%03d", st.ID, i+1), MdtrtID: p.mdtrtID, PsnNo: p.psnNo, ChrgBchno: st.ID,
			FeeOcurTime: protocol.FormatInfTime(st.CreatedAt), MedListCodg: it.Code, MedinsListCodg: it.HospCode,
			DetItemFeeSumamt: protocol.Amount(it.Amount), Cnt: protocol.Cnt(money.QuantityOf(it.Quantity)), Pric: protocol.Pric(money.PriceOfFen(it.UnitPrice)), ChrgitmLv: it.Class,
		}
	}
	up, err := call(ctx, s, st, protocol.UploadFees, p.insuplc, protocol.UploadFeesInput{Feedetail: fees})
	if err != nil {
		return p, err
	}
	if len(up.Result) != len(fees) {
		return p, fmt.Errorf("%w: 2204 answered %d items for %d sent", ErrUnbalanced, len(up.Result), len(fees))
	}

	pre, err := call(ctx, s, st, protocol.PreSettle, p.insuplc, protocol.PreSettleInput{Data: s.settleQuery(st, p.psnNo, p.insutype, p.mdtrtID)})
	if err != nil {
		return p, err
	}
	if p.split, err = splitOf(pre.Setlinfo, st.Bill.Total()); err != nil {
		return p, err
	}
	p.plan = paymentOf(pre.Payplan, p.psnNo)
	return p, nil
}

func (s *Service) settleQuery(st *Settlement, psnNo, insutype, mdtrtID string) protocol.SettleQuery {
	return protocol.SettleQuery{
		PsnNo: psnNo, MdtrtCertType: st.CertType, MdtrtCertNo: st.Personal.CertNo, MedType: "11",
		MedfeeSumamt: protocol.Amount(st.Bill.Total()), PsnSetlway: "01", MdtrtID: mdtrtID,
		ChrgBchno: st.ID, Insutype: insutype, AcctUsedFlag: "1",
	}
}

// settled is what 2207 answered.
type settled struct {
	split            Split
	payment          Payment
	setlID, setlTime string
	payerPsnNo       string
}

// settle sends 2207 under its msgid.
func (s *Service) settle(ctx context.Context, st *Settlement) (settled, error) {
	var out settled
	res, err := call(ctx, s, st, protocol.Settle, st.InsuplcAdmdvs, protocol.SettleInput{Data: protocol.SettleData{
		SettleQuery:     s.settleQuery(st, st.Personal.PsnNo, st.Insutype, st.MdtrtID),
		Invono:          st.ID,
		FulamtOwnpayAmt: protocol.Amount(st.Split.Ownpay),
		PreselfpayAmt:   protocol.Amount(st.Split.Preselfpay),
		InscpScpAmt:     protocol.Amount(st.Split.Eligible),
	}})
	if err != nil {
		return out, err
	}
	if out.split, err = splitOf(res.Setlinfo, st.Bill.Total()); err != nil {
		return out, err
	}
	if res.Setlinfo.SetlID == "" {
		return out, fmt.Errorf("%w: 2207 answer has no setl_id", protocol.ErrMalformed)
	}
	out.setlID, out.setlTime = res.Setlinfo.SetlID, res.Setlinfo.SetlTime
	out.payment = paymentOf(res.Payresult, st.Personal.PsnNo)
	out.payerPsnNo = res.Payresult.PayerPsnNo
	return out, nil
}

// call sends one transaction of st under its allocated msgid and decodes
// the answer.
func call[I, O any](ctx context.Context, s *Service, st *Settlement, tx protocol.Tx[I, O], insuplc string, in I) (O, error) {
	var zero O
	msgid := st.Msgids[tx.Infno]
	if msgid == "" {
		return zero, fmt.Errorf("%s: no msgid allocated", tx.Infno)
	}
	return send(ctx, s.platform, tx, msgid, insuplc, st.Operator, in)
}

// send encodes, sends and decodes one transaction.
func send[I, O any](ctx context.Context, p Platform, tx protocol.Tx[I, O], msgid, insuplc string, op Operator, in I) (O, error) {
	var zero O
	raw, err := tx.EncodeInput(in)
	if err != nil {
		return zero, err
	}
	out, err := p.Send(ctx, PlatformRequest{Infno: tx.Infno, Msgid: msgid, InsuplcAdmdvs: insuplc, Operator: op, Input: json.RawMessage(raw)})
	if err != nil {
		return zero, err
	}
	return tx.DecodeOutput(out)
}

func activeInsurance(list []protocol.InsuInfo) (protocol.InsuInfo, bool) {
	for _, in := range list {
		if in.PsnInsuStas == "1" {
			return in, true
		}
	}
	if len(list) > 0 {
		return list[0], true
	}
	return protocol.InsuInfo{}, false
}

// splitOf converts and checks a platform split: it must balance and match
// the bill's total, or it is not a receipt.
func splitOf(si protocol.SetlInfo, billTotal money.Fen) (Split, error) {
	sp := Split{
		Total: si.MedfeeSumamt.Fen(), Fund: si.FundPaySumamt.Fen(), Account: si.AcctPay.Fen(), SelfPay: si.PsnCashPay.Fen(),
		Ownpay: si.FulamtOwnpayAmt.Fen(), Preselfpay: si.PreselfpayAmt.Fen(), Eligible: si.InscpScpAmt.Fen(), Balance: si.Balc.Fen(),
	}
	if !sp.Balanced() {
		return sp, fmt.Errorf("%w: total %s ≠ fund %s + account %s + self-pay %s", ErrUnbalanced, sp.Total, sp.Fund, sp.Account, sp.SelfPay)
	}
	if sp.Total != billTotal && sp.Total != -billTotal {
		return sp, fmt.Errorf("%w: platform total %s ≠ bill total %s", ErrUnbalanced, sp.Total, billTotal)
	}
	return sp, nil
}

func paymentOf(pr protocol.PayResult, psnNo string) Payment {
	return Payment{
		Status: pr.Status, Source: pr.Source, AuthNo: pr.AuthNo, Reason: pr.Reason,
		FamilyPay: pr.PayerPsnNo != "" && pr.PayerPsnNo != psnNo,
	}
}

// String renders a split for notes and logs (amounts only, no person).
func (sp Split) String() string {
	return fmt.Sprintf("total %s = fund %s + account %s + self-pay %s", sp.Total, sp.Fund, sp.Account, sp.SelfPay)
}

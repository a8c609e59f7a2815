// Package insurance is the adapter between the agent's core and the
// insurance platform: it implements agent.Insurance on top of the client
// (package client), mapping each domain request to its national-interface
// transaction and each answer back to the domain, checking what it uses
// (the balancing identity, the totals, one result per line sent) and
// turning the platform's failures into agent.Refusal. It also holds the
// [insurance] configuration section (Config) that builds the client and
// its transport profile.
package insurance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/client"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// Sender is what the adapter needs of the client: a transaction sent under
// its msgid, its output back (nil for a success without one), and a file
// for 9102. *client.Client is one.
type Sender interface {
	Send(ctx context.Context, req client.Request) (json.RawMessage, error)
	Download(ctx context.Context, req client.Request) ([]byte, error)
}

// Options are the institution's constants the transactions carry.
type Options struct {
	// Institution is the fixmedins_code, named again in 9101's input.
	Institution string
	// MedType is 2206/2207's med_type: 11 general outpatient (default).
	MedType string
	// PsnSetlway is the settlement way: 01 by item (default).
	PsnSetlway string
}

// Adapter implements agent.Insurance.
type Adapter struct {
	s   Sender
	opt Options
}

var _ agent.Insurance = (*Adapter)(nil)

// New returns the adapter over s.
func New(s Sender, opt Options) (*Adapter, error) {
	if len(opt.Institution) != 12 {
		return nil, fmt.Errorf("%w: institution code %q must be 12 characters", ErrConfig, opt.Institution)
	}
	if opt.MedType == "" {
		opt.MedType = "11"
	}
	if opt.PsnSetlway == "" {
		opt.PsnSetlway = "01"
	}
	return &Adapter{s: s, opt: opt}, nil
}

// call sends one transaction and decodes its output, mapping a failure to
// an *agent.Refusal.
func call[I, O any](ctx context.Context, a *Adapter, tx protocol.Tx[I, O], x agent.Exchange, in I) (O, error) {
	var zero O
	raw, err := tx.EncodeInput(in)
	if err != nil {
		return zero, err
	}
	out, err := a.s.Send(ctx, request(tx.Infno, x, raw))
	if err != nil {
		return zero, refusal(tx.Infno, err)
	}
	o, err := tx.DecodeOutput(out)
	if err != nil {
		return zero, fmt.Errorf("%s: %w: %w", tx.Infno, ErrAnswer, err)
	}
	return o, nil
}

func request(infno string, x agent.Exchange, input json.RawMessage) client.Request {
	return client.Request{Infno: infno, Msgid: x.Msgid, InsuplcAdmdvs: x.Region, Operator: x.Operator, Input: input}
}

// refusal turns the platform's failure into the core's Refusal; other
// errors (unreachable, in doubt) pass as they are.
func refusal(infno string, err error) error {
	var perr *protocol.Error
	if !errors.As(err, &perr) {
		return err
	}
	kind := perr.Kind
	if kind == "" {
		kind = agent.RefusedProcessed // unclassified: never a success, never resent
	}
	return &agent.Refusal{Op: infno, Kind: kind, Message: perr.Message, TraceID: perr.TraceID}
}

func unusable(infno, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", infno, ErrAnswer, fmt.Sprintf(format, args...))
}

// Identify implements agent.Insurance (1101).
func (a *Adapter) Identify(ctx context.Context, r agent.IdentifyRequest) (agent.Person, error) {
	q := protocol.PersonQuery{MdtrtCertType: r.CertType, MdtrtCertNo: r.CertNo, CardSn: r.CardSN, Certno: r.IDNo, PsnName: r.Name}
	if r.IDNo != "" {
		q.PsnCertType = "01" // the resident ID card
	}
	if !r.At.IsZero() {
		q.Begntime = protocol.FormatInfTime(r.At)
	}
	out, err := call(ctx, a, protocol.PersonInfo, r.Exchange, protocol.PersonInfoInput{Data: q})
	if err != nil {
		return agent.Person{}, err
	}
	b := out.Baseinfo
	if b.PsnNo == "" {
		return agent.Person{}, unusable("1101", "no psn_no")
	}
	if len(out.Insuinfo) == 0 {
		return agent.Person{}, unusable("1101", "no insuinfo")
	}
	p := agent.Person{PsnNo: b.PsnNo, IDNo: b.Certno, Name: b.PsnName, Gender: b.Gend, Birth: dateOnly(b.Brdy), AgeTenths: int(b.Age)}
	for _, in := range out.Insuinfo {
		p.Insurances = append(p.Insurances, agent.Insured{
			Type: in.Insutype, Active: in.PsnInsuStas == protocol.InsuActive, Balance: in.Balc.Fen(),
			Region: in.InsuplcAdmdvs, PersonType: in.PsnType, Employer: in.EmpName,
		})
	}
	return p, nil
}

// dateOnly is a date's yyyy-MM-dd: Hainan sends brdy as a datetime.
func dateOnly(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// Register implements agent.Insurance (2201).
func (a *Adapter) Register(ctx context.Context, r agent.RegisterRequest) (agent.Visit, error) {
	out, err := call(ctx, a, protocol.Register, r.Exchange, protocol.RegisterInput{Data: protocol.RegisterData{
		PsnNo: r.PsnNo, Insutype: r.Insutype, Begntime: protocol.FormatInfTime(r.At),
		MdtrtCertType: r.CertType, MdtrtCertNo: r.CertNo, CardSn: r.CardSN, IptOtpNo: r.VisitNo,
		AtddrNo: r.DoctorID, DrName: r.DoctorName, DeptCode: r.DeptCode, DeptName: r.DeptName, Caty: r.DeptCategory,
	}})
	if err != nil {
		return agent.Visit{}, err
	}
	if out.Data.MdtrtID == "" {
		return agent.Visit{}, unusable("2201", "no mdtrt_id")
	}
	return agent.Visit{MdtrtID: out.Data.MdtrtID}, nil
}

// UploadFees implements agent.Insurance (2204). The platform answers one
// result per line; they are returned in the order sent, whatever order the
// answer lists them in, and each must split its own amount exactly.
func (a *Adapter) UploadFees(ctx context.Context, r agent.FeesRequest) ([]agent.LineResult, error) {
	in := protocol.UploadFeesInput{Feedetail: make(protocol.OneOrMany[protocol.FeeDetail], len(r.Lines))}
	for i, l := range r.Lines {
		rx := "0"
		if l.OutsidePrescription {
			rx = "1"
		}
		appr := l.HospApproval
		if appr == "" {
			appr = "0"
		}
		in.Feedetail[i] = protocol.FeeDetail{
			FeedetlSn: l.Seq, MdtrtID: r.MdtrtID, PsnNo: r.PsnNo, ChrgBchno: r.Batch, RxCircFlag: rx,
			FeeOcurTime: protocol.FormatInfTime(r.At), MedListCodg: l.Code, MedinsListCodg: l.HospCode,
			DetItemFeeSumamt: protocol.Amount(l.Amount), Cnt: protocol.Cnt(l.Quantity), Pric: protocol.Pric(l.Price),
			BilgDeptCodg: r.DeptCode, BilgDeptName: r.DeptName, BilgDrCodg: r.DoctorID, BilgDrName: r.DoctorName,
			HospApprFlag: appr,
		}
	}
	out, err := call(ctx, a, protocol.UploadFees, r.Exchange, in)
	if err != nil {
		return nil, err
	}
	if len(out.Result) != len(r.Lines) {
		return nil, fmt.Errorf("2204: %w: %d results for %d lines", agent.ErrUnbalanced, len(out.Result), len(r.Lines))
	}
	bySeq := make(map[string]protocol.FeeResult, len(out.Result))
	for _, res := range out.Result {
		bySeq[res.FeedetlSn] = res
	}
	lines := make([]agent.LineResult, len(r.Lines))
	for i, l := range r.Lines {
		res, ok := bySeq[l.Seq]
		if !ok {
			return nil, unusable("2204", "no result for line %s", l.Seq)
		}
		parts := res.FulamtOwnpayAmt.Fen() + res.OverlmtAmt.Fen() + res.PreselfpayAmt.Fen() + res.InscpScpAmt.Fen()
		if parts != l.Amount {
			return nil, fmt.Errorf("2204: %w: line %s of %s splits into %s", agent.ErrUnbalanced, l.Seq, l.Amount, parts)
		}
		if res.ChrgitmLv == "" {
			return nil, unusable("2204", "line %s has no chrgitm_lv", l.Seq)
		}
		lines[i] = agent.LineResult{
			Seq: l.Seq, Class: res.ChrgitmLv, SelfPayRatio: int(res.SelfpayProp),
			Ownpay: res.FulamtOwnpayAmt.Fen(), Overlimit: res.OverlmtAmt.Fen(), Preselfpay: res.PreselfpayAmt.Fen(),
			Eligible: res.InscpScpAmt.Fen(), Note: strings.TrimSpace(res.Memo),
		}
	}
	return lines, nil
}

func (a *Adapter) settleQuery(r agent.SplitRequest) protocol.SettleQuery {
	flag := "0"
	if r.UseAccount {
		flag = "1"
	}
	return protocol.SettleQuery{
		PsnNo: r.PsnNo, MdtrtCertType: r.CertType, MdtrtCertNo: r.CertNo, CardSn: r.CardSN, MedType: a.opt.MedType,
		MedfeeSumamt: protocol.Amount(r.Total), PsnSetlway: a.opt.PsnSetlway, MdtrtID: r.MdtrtID, ChrgBchno: r.Batch,
		Insutype: r.Insutype, AcctUsedFlag: flag,
	}
}

// PreSettle implements agent.Insurance (2206).
func (a *Adapter) PreSettle(ctx context.Context, r agent.SplitRequest) (agent.InsuranceSplit, error) {
	out, err := call(ctx, a, protocol.PreSettle, r.Exchange, protocol.PreSettleInput{Data: a.settleQuery(r)})
	if err != nil {
		return agent.InsuranceSplit{}, err
	}
	return splitOf("2206", out.Setlinfo, r.Total)
}

// Settle implements agent.Insurance (2207).
func (a *Adapter) Settle(ctx context.Context, r agent.SplitRequest) (agent.Booking, error) {
	out, err := call(ctx, a, protocol.Settle, r.Exchange, protocol.SettleInput{Data: protocol.SettleData{
		SettleQuery: a.settleQuery(r), Invono: r.InvoiceNo,
		FulamtOwnpayAmt: protocol.Amount(r.Pre.Ownpay), OverlmtSelfpay: protocol.Amount(r.Pre.Overlimit),
		PreselfpayAmt: protocol.Amount(r.Pre.Preselfpay), InscpScpAmt: protocol.Amount(r.Pre.Eligible),
	}})
	if err != nil {
		return agent.Booking{}, err
	}
	return bookingOf("2207", out.Setlinfo, r.Total)
}

// Cancel implements agent.Insurance (2208). The answer's amounts are the
// original's negated; its setl_id is the cancellation's own.
func (a *Adapter) Cancel(ctx context.Context, r agent.CancelRequest) (agent.Booking, error) {
	out, err := call(ctx, a, protocol.CancelSettle, r.Exchange, protocol.CancelInput{Data: protocol.CancelData{SetlID: r.SetlID, MdtrtID: r.MdtrtID, PsnNo: r.PsnNo}})
	if err != nil {
		return agent.Booking{}, err
	}
	if out.Setlinfo.MedfeeSumamt > 0 {
		return agent.Booking{}, fmt.Errorf("2208: %w: a cancellation of %s, not a negative amount", agent.ErrUnbalanced, out.Setlinfo.MedfeeSumamt.Fen())
	}
	return bookingOf("2208", out.Setlinfo, out.Setlinfo.MedfeeSumamt.Fen())
}

// bookingOf is a booked split: balanced, of the expected total, with a
// setl_id.
func bookingOf(infno string, si protocol.SetlInfo, total money.Fen) (agent.Booking, error) {
	split, err := splitOf(infno, si, total)
	if err != nil {
		return agent.Booking{}, err
	}
	if si.SetlID == "" {
		return agent.Booking{}, unusable(infno, "no setl_id")
	}
	return agent.Booking{
		SetlID: si.SetlID, SetlDay: si.SetlTime, Split: split,
		ClearingRegion: si.ClrOptins, ClearingWay: si.ClrWay, ClearingType: si.ClrType,
	}, nil
}

// fundKinds maps setlinfo's fund fields to the core's fund kinds.
var fundKinds = map[string]string{
	"hifp_pay": agent.FundPooled, "cvlserv_pay": agent.FundCivilServant, "hifes_pay": agent.FundEnterprise,
	"hifmi_pay": agent.FundSeriousIllness, "hifob_pay": agent.FundLargeAmount, "maf_pay": agent.FundAssistance,
	"oth_pay": agent.FundOther,
}

// splitOf converts and checks a split: it must balance as real platforms
// balance (the hospital's part included, psn_part_amt when present) and
// be of the bill's total, or it is not a receipt. setldetail is not
// summed against either total: real ones do not add up.
func splitOf(infno string, si protocol.SetlInfo, total money.Fen) (agent.InsuranceSplit, error) {
	if why := si.Imbalance(); why != "" {
		return agent.InsuranceSplit{}, fmt.Errorf("%s: %w: %s", infno, agent.ErrUnbalanced, why)
	}
	if si.MedfeeSumamt.Fen() != total {
		return agent.InsuranceSplit{}, fmt.Errorf("%s: %w: the platform's total %s is not the bill's %s", infno, agent.ErrUnbalanced, si.MedfeeSumamt.Fen(), total)
	}
	sp := agent.InsuranceSplit{
		Total: si.MedfeeSumamt.Fen(), Fund: si.FundPaySumamt.Fen(), Account: si.AcctPay.Fen(), MutualAid: si.AcctMulaidPay.Fen(),
		Cash: si.PsnCashPay.Fen(), Hospital: si.HospPartAmt.Fen(),
		Ownpay: si.FulamtOwnpayAmt.Fen(), Overlimit: si.OverlmtSelfpay.Fen(), Preselfpay: si.PreselfpayAmt.Fen(),
		Eligible: si.InscpScpAmt.Fen(), Deductible: si.ActPayDedc.Fen(), Balance: si.Balc.Fen(),
	}
	for _, f := range si.FundItems() {
		if f.Amount != 0 {
			sp.Funds = append(sp.Funds, agent.FundPart{Kind: fundKinds[f.Field], Amount: f.Amount})
		}
	}
	return sp, nil
}

// Reverse implements agent.Insurance (2601). A refusal saying the original
// does not exist resolves the doubt as surely as a reversal: the platform
// never had it, and refuses it should it arrive.
func (a *Adapter) Reverse(ctx context.Context, r agent.ReverseRequest) (agent.Reversal, error) {
	oinfno := protocol.Settle.Infno
	switch r.What {
	case agent.ReverseSettle:
	case agent.ReverseCancel:
		oinfno = protocol.CancelSettle.Infno
	default:
		return agent.Reversal{}, fmt.Errorf("2601: %w: nothing to reverse of kind %q", agent.ErrInvalid, r.What)
	}
	_, err := call(ctx, a, protocol.Reverse, r.Exchange, protocol.ReverseInput{Data: protocol.ReverseData{PsnNo: r.PsnNo, Omsgid: r.Of, Oinfno: oinfno}})
	var ref *agent.Refusal
	switch {
	case err == nil:
		return agent.Reversal{Found: true}, nil
	case errors.As(err, &ref) && ref.Kind == agent.RefusedNotFound:
		return agent.Reversal{Found: false}, nil
	}
	return agent.Reversal{}, err
}

// ReconcileTotals implements agent.Insurance (3201).
func (a *Adapter) ReconcileTotals(ctx context.Context, r agent.TotalsRequest) (agent.TotalsResult, error) {
	refd := "0"
	if r.WithRefunds {
		refd = "1"
	}
	out, err := call(ctx, a, protocol.ReconcileTotals, r.Exchange, protocol.ReconcileInput{Data: protocol.ReconcileData{
		Insutype: r.Insutype, ClrType: r.ClearingType, SetlOptins: r.ClearingRegion,
		StmtBegndate: protocol.FormatDate(r.From), StmtEnddate: protocol.FormatDate(r.To),
		MedfeeSumamt: protocol.Amount(r.Total), FundPaySumamt: protocol.Amount(r.Fund), AcctPay: protocol.Amount(r.Account),
		FixmedinsSetlCnt: int64(r.Count), RefdSetlFlag: refd,
	}})
	if err != nil {
		return agent.TotalsResult{}, err
	}
	if out.Stmtinfo.StmtRslt == "" {
		return agent.TotalsResult{}, unusable("3201", "no stmtinfo.stmt_rslt")
	}
	return agent.TotalsResult{Result: out.Stmtinfo.StmtRslt, Description: out.Stmtinfo.StmtRsltDscr}, nil
}

// Policy implements agent.Insurance (E002, our extension).
func (a *Adapter) Policy(ctx context.Context, x agent.Exchange) (agent.Policy, error) {
	out, err := call(ctx, a, protocol.PolicyParams, x, protocol.PolicyInput{})
	if err != nil {
		return agent.Policy{}, err
	}
	p := agent.Policy{Version: out.Data.Version, ClassBSelfPayPct: out.Data.ClassBSelfPayPct}
	for _, in := range out.Data.Insurance {
		p.Insurance = append(p.Insurance, agent.InsurancePolicy{Insutype: in.Insutype, Deductible: in.Deductible.Fen(), RatioPct: in.RatioPct, YearCap: in.YearCap.Fen()})
	}
	return p, nil
}

// TrustList implements agent.Insurance (E001, our extension): the list as
// the platform sent it, for whoever checks and applies it.
func (a *Adapter) TrustList(ctx context.Context, x agent.Exchange, since uint64) ([]byte, error) {
	raw, err := protocol.TrustList.EncodeInput(protocol.TrustListInput{Data: protocol.TrustListQuery{SinceVersion: since}})
	if err != nil {
		return nil, err
	}
	out, err := a.s.Send(ctx, request(protocol.TrustList.Infno, x, raw))
	if err != nil {
		return nil, refusal(protocol.TrustList.Infno, err)
	}
	if len(out) == 0 {
		return nil, unusable("E001", "no output")
	}
	return out, nil
}

// Available reports whether the platform is believed reachable, as the
// client's circuit breaker says: the core defers a bill at once while it
// is open instead of waiting out a connect window.
func (a *Adapter) Available() bool {
	if av, ok := a.s.(interface{ Available() bool }); ok {
		return av.Available()
	}
	return true
}

package agenttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/money"
)

// InsuranceModel is an in-memory insurance platform: people, visits, fee
// batches, settlements and their cancellations, with the national
// platform's behaviours the core relies on: a msgid answered once and
// replayed, a reversal that undoes a booking or bars a msgid never seen,
// the item class from the catalogue, balanced splits, reconciliation of
// totals and detail. Its rules are simple (no deductible, the fund pays
// FundPct of the eligible amount, the account what it can): enough to
// exercise the core, not the sandbox's policy.
type InsuranceModel struct {
	// Clock dates settlements and reconciliations; the wall clock when
	// nil.
	Clock clock.Clock
	// People, by ID number.
	People map[string]*ModelPerson
	// Catalogue classes codes; a code it lacks is class 01.
	Catalogue map[string]string
	// FundPct is the fund's share of the eligible amount, ClassBSelfPct
	// the self-paid-first share of a class B line.
	FundPct, ClassBSelfPct int64

	mu       sync.Mutex
	seq      int
	answers  map[string]answer // msgid → first answer
	barred   map[string]bool   // msgids reversed before they came
	visits   map[string]*modelVisit
	batches  map[string]*modelBatch // mdtrt_id NUL batch
	settled  map[string]*modelSettlement
	bySettle map[string]*modelSettlement // the 2207 or 2208 msgid → settlement
	tokens   map[string]string           // e-voucher token → ID number
	codes    map[string]string           // e-voucher code → ID number
}

// ModelPerson is one insured person of the Model.
type ModelPerson struct {
	agent.Person
	CardNo, CardSN string
}

// The Model's default patient and catalogue codes (invented: no real
// person or catalogue entry).
const (
	DefaultIDNo   = "11010519491231002X"
	DefaultPsnNo  = "P0001"
	CodeClassA    = "XA-FAKE-01"
	CodeClassB    = "XB-FAKE-02"
	CodeClassC    = "XC-FAKE-03"
	DefaultRegion = "441900"
)

type answer struct {
	request string
	value   any
	err     error
}

type modelVisit struct {
	id, psnNo, insutype string
}

type modelBatch struct {
	lines     []agent.FeeLine
	results   []agent.LineResult
	settledBy string // the active settlement's setl_id
}

type modelSettlement struct {
	setlID, msgid, psnNo, mdtrtID, batch, date string
	split                                      agent.InsuranceSplit
	cancel                                     *agent.Booking
	cancelMsgid, cancelDate                    string
	reversed                                   bool
}

// NewInsuranceModel returns a Model with DefaultPatient and the three
// catalogue codes.
func NewInsuranceModel() *InsuranceModel {
	m := &InsuranceModel{
		People:    map[string]*ModelPerson{},
		Catalogue: map[string]string{CodeClassA: "01", CodeClassB: "02", CodeClassC: "03"},
		FundPct:   70, ClassBSelfPct: 10,
	}
	p := DefaultPatient()
	m.People[p.IDNo] = &p
	return m
}

// DefaultPatient is an employee with a personal account of 500 CNY.
func DefaultPatient() ModelPerson {
	return ModelPerson{
		Person: agent.Person{PsnNo: DefaultPsnNo, IDNo: DefaultIDNo, Name: "张三", Gender: "1", Birth: "1949-12-31", AgeTenths: 769,
			Insurances: []agent.Insured{
				{Type: "390", Active: false, Region: DefaultRegion, PersonType: "14"},
				{Type: "310", Active: true, Balance: money.CNY(500), Region: DefaultRegion, PersonType: "11", Employer: "示例单位"},
			}},
		CardNo: "D19880001", CardSN: "441900D1560000050A1B2C3D00000001",
	}
}

var _ agent.Insurance = (*InsuranceModel)(nil)

// AddPerson adds an insured employee like DefaultPatient under another ID
// number and name (and a card, when cardNo is given), and returns it.
func (m *InsuranceModel) AddPerson(idNo, name, cardNo, cardSN string) *ModelPerson {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := DefaultPatient()
	p.IDNo, p.Name, p.CardNo, p.CardSN = idNo, name, cardNo, cardSN
	p.PsnNo = "P" + idNo
	p.Insurances = append([]agent.Insured(nil), p.Insurances...)
	m.People[idNo] = &p
	return &p
}

// AcceptToken makes 1101 with certificate type 01 take token as the
// person with the ID number (a code verified by the terminal itself, or a
// token the e-voucher component gave).
func (m *InsuranceModel) AcceptToken(token, idNo string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	m.tokens[token] = idNo
}

// SetBalance sets the personal account balance of a person's active
// insurance.
func (m *InsuranceModel) SetBalance(idNo string, balance money.Fen) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.People[idNo].Insurances {
		if m.People[idNo].Insurances[i].Active {
			m.People[idNo].Insurances[i].Balance = balance
		}
	}
}

func (m *InsuranceModel) now() time.Time {
	if m.Clock == nil {
		return time.Now()
	}
	return m.Clock.Now()
}

func (m *InsuranceModel) date() string {
	return m.now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02")
}

func refused(op, kind, msg string) error {
	return &agent.Refusal{Op: op, Kind: kind, Message: msg}
}

// once answers a msgid once: a repeat of the same request gets the first
// answer, another request under it a duplicate refusal, a barred msgid a
// refusal; f runs under the Model's lock.
func once[T any](m *InsuranceModel, op, msgid string, req any, f func() (T, error)) (T, error) {
	var zero T
	raw, _ := json.Marshal(req)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	if msgid == "" {
		return zero, fmt.Errorf("%s: %w: no msgid", op, agent.ErrInvalid)
	}
	if a, ok := m.answers[msgid]; ok {
		if a.request != string(raw) {
			return zero, refused(op, agent.RefusedDuplicate, "报文ID重复且请求内容不同")
		}
		v, _ := a.value.(T)
		return v, a.err
	}
	if m.barred[msgid] {
		return zero, refused(op, agent.RefusedDuplicate, "该报文已冲正，不再受理")
	}
	v, err := f()
	var ref *agent.Refusal
	if err == nil || errors.As(err, &ref) {
		m.answers[msgid] = answer{request: string(raw), value: v, err: err}
	}
	return v, err
}

// init makes the state's maps; the caller holds the lock.
func (m *InsuranceModel) init() {
	if m.answers != nil {
		return
	}
	m.answers, m.barred = map[string]answer{}, map[string]bool{}
	m.visits, m.batches, m.settled, m.bySettle = map[string]*modelVisit{}, map[string]*modelBatch{}, map[string]*modelSettlement{}, map[string]*modelSettlement{}
	m.tokens, m.codes = map[string]string{}, map[string]string{}
}

func (m *InsuranceModel) Identify(_ context.Context, r agent.IdentifyRequest) (agent.Person, error) {
	return once(m, "1101", r.Msgid, r, func() (agent.Person, error) {
		var p *ModelPerson
		switch r.CertType {
		case agent.CertIDNo:
			p = m.People[r.CertNo]
		case agent.CertSSCard:
			for _, q := range m.People {
				if q.CardNo == r.CertNo && q.CardSN == r.CardSN {
					p = q
				}
			}
		case agent.CertEVoucher:
			p = m.People[m.tokens[r.CertNo]]
		}
		if p == nil || (r.IDNo != "" && r.IDNo != p.IDNo) {
			return agent.Person{}, refused("1101", agent.RefusedNotFound, "人员信息不存在")
		}
		out := p.Person
		out.Insurances = append([]agent.Insured(nil), p.Insurances...)
		return out, nil
	})
}

func (m *InsuranceModel) person(psnNo string) *ModelPerson {
	for _, p := range m.People {
		if p.PsnNo == psnNo {
			return p
		}
	}
	return nil
}

func (m *InsuranceModel) Register(_ context.Context, r agent.RegisterRequest) (agent.Visit, error) {
	return once(m, "2201", r.Msgid, r, func() (agent.Visit, error) {
		p := m.person(r.PsnNo)
		if p == nil {
			return agent.Visit{}, refused("2201", agent.RefusedNotFound, "人员信息不存在")
		}
		if in, ok := p.Active(); !ok || !in.Active || in.Type != r.Insutype {
			return agent.Visit{}, refused("2201", agent.RefusedProcessed, "参保状态异常，不能享受待遇")
		}
		m.seq++
		v := &modelVisit{id: fmt.Sprintf("MD%08d", m.seq), psnNo: r.PsnNo, insutype: r.Insutype}
		m.visits[v.id] = v
		return agent.Visit{MdtrtID: v.id}, nil
	})
}

func (m *InsuranceModel) UploadFees(_ context.Context, r agent.FeesRequest) ([]agent.LineResult, error) {
	return once(m, "2204", r.Msgid, r, func() ([]agent.LineResult, error) {
		v := m.visits[r.MdtrtID]
		if v == nil || v.psnNo != r.PsnNo {
			return nil, refused("2204", agent.RefusedNotFound, "就诊信息不存在")
		}
		key := r.MdtrtID + "\x00" + r.Batch
		if b := m.batches[key]; b != nil && b.settledBy != "" {
			return nil, refused("2204", agent.RefusedProcessed, "该批次已结算")
		}
		b := &modelBatch{}
		for _, l := range r.Lines {
			if l.Quantity <= 0 || l.Price <= 0 || money.LineAmount(l.Quantity, l.Price) != l.Amount {
				return nil, refused("2204", agent.RefusedProcessed, "明细金额与数量单价不符: "+l.Seq)
			}
			class := m.Catalogue[l.Code]
			if class == "" {
				class = "01"
			}
			res := agent.LineResult{Seq: l.Seq, Class: class}
			switch class {
			case "02":
				res.SelfPayRatio = int(m.ClassBSelfPct * 100)
				res.Preselfpay = l.Amount.Percent(m.ClassBSelfPct)
				res.Eligible = l.Amount - res.Preselfpay
			case "03":
				res.SelfPayRatio, res.Ownpay = 10_000, l.Amount
			default:
				res.Eligible = l.Amount
			}
			b.lines, b.results = append(b.lines, l), append(b.results, res)
		}
		m.batches[key] = b
		return append([]agent.LineResult(nil), b.results...), nil
	})
}

// quote is the split of a batch now.
func (m *InsuranceModel) quote(op string, r agent.SplitRequest) (*modelBatch, *ModelPerson, agent.InsuranceSplit, error) {
	v := m.visits[r.MdtrtID]
	b := m.batches[r.MdtrtID+"\x00"+r.Batch]
	if v == nil || v.psnNo != r.PsnNo || b == nil {
		return nil, nil, agent.InsuranceSplit{}, refused(op, agent.RefusedNotFound, "就诊或费用明细不存在")
	}
	if b.settledBy != "" {
		return nil, nil, agent.InsuranceSplit{}, refused(op, agent.RefusedDuplicate, "该批次已结算")
	}
	var s agent.InsuranceSplit
	for i, l := range b.lines {
		s.Total += l.Amount
		s.Ownpay, s.Overlimit = s.Ownpay+b.results[i].Ownpay, s.Overlimit+b.results[i].Overlimit
		s.Preselfpay, s.Eligible = s.Preselfpay+b.results[i].Preselfpay, s.Eligible+b.results[i].Eligible
	}
	if s.Total != r.Total {
		return nil, nil, agent.InsuranceSplit{}, refused(op, agent.RefusedProcessed, "医疗费总额与明细不符")
	}
	p := m.person(r.PsnNo)
	in, _ := p.Active()
	s.Fund = s.Eligible.Percent(m.FundPct)
	if s.Fund > 0 {
		s.Funds = []agent.FundPart{{Kind: agent.FundPooled, Amount: s.Fund}}
	}
	personal := s.Total - s.Fund
	if r.UseAccount {
		s.Account = money.Min(personal, in.Balance)
	}
	s.Cash = personal - s.Account
	s.Balance = in.Balance - s.Account
	return b, p, s, nil
}

func (m *InsuranceModel) PreSettle(_ context.Context, r agent.SplitRequest) (agent.InsuranceSplit, error) {
	return once(m, "2206", r.Msgid, r, func() (agent.InsuranceSplit, error) {
		_, _, s, err := m.quote("2206", r)
		return s, err
	})
}

func (m *InsuranceModel) Settle(_ context.Context, r agent.SplitRequest) (agent.Booking, error) {
	return once(m, "2207", r.Msgid, r, func() (agent.Booking, error) {
		b, p, s, err := m.quote("2207", r)
		if err != nil {
			return agent.Booking{}, err
		}
		if r.Pre.Ownpay != s.Ownpay || r.Pre.Overlimit != s.Overlimit || r.Pre.Preselfpay != s.Preselfpay || r.Pre.Eligible != s.Eligible {
			return agent.Booking{}, refused("2207", agent.RefusedProcessed, "结算金额与预结算不符")
		}
		m.seq++
		st := &modelSettlement{setlID: fmt.Sprintf("S%08d", m.seq), msgid: r.Msgid, psnNo: r.PsnNo, mdtrtID: r.MdtrtID, batch: r.Batch, date: m.date(), split: s}
		m.account(p, -s.Account)
		b.settledBy = st.setlID
		m.settled[st.setlID], m.bySettle[r.Msgid] = st, st
		return st.booking(), nil
	})
}

func (st *modelSettlement) booking() agent.Booking {
	return agent.Booking{SetlID: st.setlID, SetlDay: st.date + " 10:00:00", Split: st.split, ClearingRegion: DefaultRegion, ClearingWay: "01", ClearingType: "11"}
}

// account moves the active insurance's balance by d.
func (m *InsuranceModel) account(p *ModelPerson, d money.Fen) {
	for i := range p.Insurances {
		if p.Insurances[i].Active {
			p.Insurances[i].Balance += d
			return
		}
	}
}

func neg(s agent.InsuranceSplit) agent.InsuranceSplit {
	n := agent.InsuranceSplit{Total: -s.Total, Fund: -s.Fund, Account: -s.Account, MutualAid: -s.MutualAid, Cash: -s.Cash, Hospital: -s.Hospital,
		Ownpay: -s.Ownpay, Overlimit: -s.Overlimit, Preselfpay: -s.Preselfpay, Eligible: -s.Eligible, Deductible: -s.Deductible}
	for _, f := range s.Funds {
		n.Funds = append(n.Funds, agent.FundPart{Kind: f.Kind, Amount: -f.Amount})
	}
	return n
}

func (m *InsuranceModel) Cancel(_ context.Context, r agent.CancelRequest) (agent.Booking, error) {
	return once(m, "2208", r.Msgid, r, func() (agent.Booking, error) {
		st := m.settled[r.SetlID]
		if st == nil || st.mdtrtID != r.MdtrtID || st.psnNo != r.PsnNo {
			return agent.Booking{}, refused("2208", agent.RefusedNotFound, "结算信息不存在")
		}
		if st.cancel != nil || st.reversed {
			return agent.Booking{}, refused("2208", agent.RefusedDuplicate, "该结算已撤销")
		}
		p := m.person(st.psnNo)
		m.account(p, st.split.Account)
		in, _ := p.Active()
		m.seq++
		c := agent.Booking{SetlID: fmt.Sprintf("C%08d", m.seq), SetlDay: m.date() + " 10:00:00", Split: neg(st.split), ClearingRegion: DefaultRegion}
		c.Split.Balance = in.Balance
		st.cancel, st.cancelMsgid, st.cancelDate = &c, r.Msgid, m.date()
		m.batches[st.mdtrtID+"\x00"+st.batch].settledBy = ""
		m.bySettle[r.Msgid] = st
		return c, nil
	})
}

func (m *InsuranceModel) Reverse(_ context.Context, r agent.ReverseRequest) (agent.Reversal, error) {
	return once(m, "2601", r.Msgid, r, func() (agent.Reversal, error) {
		st := m.bySettle[r.Of]
		if st == nil {
			m.barred[r.Of] = true // never seen: refused should it come
			return agent.Reversal{Found: false}, nil
		}
		p := m.person(st.psnNo)
		switch {
		case r.What == agent.ReverseSettle && st.msgid == r.Of && !st.reversed:
			if st.cancel == nil {
				m.account(p, st.split.Account)
				m.batches[st.mdtrtID+"\x00"+st.batch].settledBy = ""
			}
			st.reversed = true
		case r.What == agent.ReverseCancel && st.cancelMsgid == r.Of && st.cancel != nil && !st.reversed:
			m.account(p, -st.split.Account)
			m.batches[st.mdtrtID+"\x00"+st.batch].settledBy = st.setlID
			st.cancel, st.cancelMsgid = nil, ""
		}
		return agent.Reversal{Found: true}, nil
	})
}

// record is one line of the Model's side of a reconciliation.
type record struct {
	setlID, mdtrtID, psnNo, msgid string
	total, fund, account          money.Fen
	refund                        bool
}

// records are the period's lines: the settlements booked in it and not
// reversed, and with refunds a negative line per cancellation in it;
// without, only the settlements still counting.
func (m *InsuranceModel) records(from, to time.Time, refunds bool) []record {
	f, t := from.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02"), to.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02")
	in := func(d string) bool { return d >= f && d <= t }
	var out []record
	for _, st := range m.settled {
		if st.reversed {
			continue
		}
		fwd := record{setlID: st.setlID, mdtrtID: st.mdtrtID, psnNo: st.psnNo, msgid: st.msgid, total: st.split.Total, fund: st.split.Fund, account: st.split.Account}
		if in(st.date) && (refunds || st.cancel == nil) {
			out = append(out, fwd)
		}
		if refunds && st.cancel != nil && in(st.cancelDate) {
			c := st.cancel.Split
			out = append(out, record{setlID: st.cancel.SetlID, mdtrtID: st.mdtrtID, psnNo: st.psnNo, msgid: st.cancelMsgid, total: c.Total, fund: c.Fund, account: c.Account, refund: true})
		}
	}
	return out
}

func (m *InsuranceModel) ReconcileTotals(_ context.Context, r agent.TotalsRequest) (agent.TotalsResult, error) {
	return once(m, "3201", r.Msgid, r, func() (agent.TotalsResult, error) {
		recs := m.records(r.From, r.To, r.WithRefunds)
		var total, fund, acct money.Fen
		for _, rec := range recs {
			total, fund, acct = total+rec.total, fund+rec.fund, acct+rec.account
		}
		switch {
		case len(recs) == r.Count && total == r.Total && fund == r.Fund && acct == r.Account:
			return agent.TotalsResult{Result: agent.TotalsBalanced, Description: "对账平衡"}, nil
		case len(recs) > r.Count:
			return agent.TotalsResult{Result: agent.TotalsPlatformMore, Description: "中心多"}, nil
		case len(recs) < r.Count:
			return agent.TotalsResult{Result: agent.TotalsInstitutionMore, Description: "医药机构多"}, nil
		}
		return agent.TotalsResult{Result: agent.TotalsMismatch, Description: "数据不一致"}, nil
	})
}

func (m *InsuranceModel) ReconcileDetail(_ context.Context, r agent.DetailRequest) ([]agent.DetailResult, error) {
	return once(m, "3202", r.Compare.Msgid, r, func() ([]agent.DetailResult, error) {
		var total, fund money.Fen
		refunds := false
		type key struct {
			setl   string
			refund bool
		}
		local := map[key]agent.DetailLine{}
		for _, l := range r.Lines {
			total, fund, refunds = total+l.Total, fund+l.Fund, refunds || l.Refund
			local[key{l.SetlID, l.Refund}] = l
		}
		if len(r.Lines) != r.Count || total != r.Total || fund != r.Fund {
			return nil, refused("3202", agent.RefusedProcessed, "汇总金额与明细不符")
		}
		var out []agent.DetailResult
		for _, rec := range m.records(r.From, r.To, refunds) {
			res := agent.DetailResult{PsnNo: rec.psnNo, MdtrtID: rec.mdtrtID, SetlID: rec.setlID, Msgid: rec.msgid, Refund: rec.refund,
				Result: agent.TotalsBalanced, Total: rec.total, Fund: rec.fund, Account: rec.account}
			l, listed := local[key{rec.setlID, rec.refund}]
			delete(local, key{rec.setlID, rec.refund})
			switch {
			case !listed:
				res.Result, res.Memo = agent.TotalsPlatformMore, "中心多"
			case l.Total != rec.total || l.Fund != rec.fund || l.Account != rec.account:
				res.Result, res.Memo = agent.TotalsMismatch, "数据不一致"
			}
			out = append(out, res)
		}
		for _, l := range r.Lines {
			if _, left := local[key{l.SetlID, l.Refund}]; left {
				out = append(out, agent.DetailResult{PsnNo: l.PsnNo, MdtrtID: l.MdtrtID, SetlID: l.SetlID, Refund: l.Refund,
					Result: agent.TotalsInstitutionMore, Memo: "医药机构多", Total: l.Total, Fund: l.Fund, Account: l.Account})
			}
		}
		return out, nil
	})
}

func (m *InsuranceModel) Policy(_ context.Context, x agent.Exchange) (agent.Policy, error) {
	return once(m, "E002", x.Msgid, x, func() (agent.Policy, error) {
		return agent.Policy{Version: "model-1", ClassBSelfPayPct: m.ClassBSelfPct, Insurance: []agent.InsurancePolicy{
			{Insutype: "310", RatioPct: m.FundPct, YearCap: money.CNY(8000)},
		}}, nil
	})
}

func (m *InsuranceModel) TrustList(_ context.Context, x agent.Exchange, since uint64) ([]byte, error) {
	return once(m, "E001", x.Msgid, x, func() ([]byte, error) {
		return []byte(`{"version":1,"keys":[],"revoked":[]}`), nil
	})
}

// newCode is a fresh e-voucher code of the person with an ID number.
func (m *InsuranceModel) newCode(idNo string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	m.seq++
	c := fmt.Sprintf("EC%020d", m.seq)
	m.codes[c] = idNo
	return c
}

// resolveCode is ec.query: a code used once, resolved into a token.
func (m *InsuranceModel) resolveCode(q agent.EVoucherQuery) (agent.EVoucherHolder, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	idNo, ok := m.codes[q.Code]
	p := m.People[idNo]
	if !ok || p == nil || q.BusinessType == "" || q.OperatorID == "" {
		return agent.EVoucherHolder{}, errors.New("ec.query refused: 电子凭证二维码无效")
	}
	delete(m.codes, q.Code)
	m.seq++
	token := fmt.Sprintf("%sec%030x", DefaultRegion, m.seq)
	m.tokens[token] = idNo
	in, _ := p.Active()
	return agent.EVoucherHolder{Token: token, IDNo: p.IDNo, IDType: "01", Name: p.Name, Region: in.Region}, nil
}

package model

import (
	"errors"
	"fmt"
	"slices"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/paychannel"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// Ledgers are both counterparties' books at one moment: the insurance
// platform's (the funds' share and the personal account) and the payment
// channel's (the patient's own part, from the source signed for).
type Ledgers struct {
	Insurance sandbox.Ledger
	Payment   paychannel.Ledger
}

// Check compares the end of a run with the model, once every fault is
// healed and the backlog drained: the agent's journal (every record, with
// its personal fields) and both counterparties' books at the start and at
// the end of the run. It returns every difference found, joined.
//
// Per bill: the journal's final state is the one the model's outcome
// allows; the platform holds exactly the settlements the outcome says
// (found by chrg_bchno, which is the agent's settlement id), each with the
// msgid, setl_id and amounts the journal shows; any other settlement of
// the bill was reversed by the agent under a msgid it gave up. The
// channel holds exactly one booked payment of the patient's part for a
// bill the journal says was paid, under the journal's order id and for
// its amount, given back by a booked cancel or refund if the bill was
// refunded, and none for a part the journal says was not taken. Per
// person: the personal account and the fund's consumption moved by
// exactly what the journal's settled bills say, and the platform touched
// no other balance. Per source on the channel: its balance moved by
// exactly the payments and returns booked from it.
func (m *Model) Check(records []*agent.Settlement, start, end Ledgers) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	byKey := map[string]*agent.Settlement{}
	byID := map[string]*agent.Settlement{}
	for _, st := range records {
		byKey[st.IdempotencyKey], byID[st.ID] = st, st
		if m.bills[st.IdempotencyKey] == nil {
			bad("journal holds %s under key %q, which no HIS submitted", st.ID, st.IdempotencyKey)
		}
		switch st.State {
		case agent.StateAccepted, agent.StateSettling, agent.StateInDoubt, agent.StateReversing, agent.StatePaying, agent.StateRefunding, agent.StateDeferred:
			bad("journal: %s (%s) is still %s after the drain", st.ID, st.IdempotencyKey, st.State)
		}
	}
	booked := map[string][]sandbox.LedgerSettlement{}
	for _, ls := range end.Insurance.Settlements {
		if byID[ls.ChrgBchno] == nil {
			bad("platform: settlement %s (msgid %s) is for %q, a bill the agent has no record of", ls.SetlID, ls.Msgid, ls.ChrgBchno)
			continue
		}
		booked[ls.ChrgBchno] = append(booked[ls.ChrgBchno], ls)
	}
	for _, b := range m.Bills() {
		st := byKey[b.Key]
		if st == nil {
			bad("bill %s: no journal record", b.Key)
			continue
		}
		for _, err := range m.checkBill(b, st, booked[st.ID]) {
			errs = append(errs, fmt.Errorf("bill %s (%s, %s by %s, %s, %s): %w", b.Key, st.ID, b.Persona, b.CertType, b.Mode, b.Amount, err))
		}
	}
	errs = append(errs, books(records, start, end)...)
	return errors.Join(errs...)
}

// CheckLedgers holds both counterparties' books against the journal
// alone, for tests that keep no model of what was asked: a settled bill
// is booked once on the platform under its 2207 msgid with the journal's
// amounts, a refunded one booked once and cancelled under its 2208
// msgid, any other not at all (an attempt the agent gave up may be
// reversed); no booking is for a bill the journal does not have; and the
// payment leg and the balances are checked as Check checks them.
func CheckLedgers(records []*agent.Settlement, start, end Ledgers) error {
	var errs []error
	byID := map[string]*agent.Settlement{}
	for _, st := range records {
		byID[st.ID] = st
	}
	booked := map[string][]sandbox.LedgerSettlement{}
	for _, ls := range end.Insurance.Settlements {
		if byID[ls.ChrgBchno] == nil {
			errs = append(errs, fmt.Errorf("platform: settlement %s (msgid %s) is for %q, a bill the agent has no record of", ls.SetlID, ls.Msgid, ls.ChrgBchno))
			continue
		}
		booked[ls.ChrgBchno] = append(booked[ls.ChrgBchno], ls)
	}
	for _, st := range records {
		var active, cancelled []sandbox.LedgerSettlement
		for _, ls := range booked[st.ID] {
			switch {
			case ls.Reversed:
				if !slices.Contains(st.PriorMsgids, ls.Msgid) {
					errs = append(errs, fmt.Errorf("%s: the platform reversed msgid %s, which the agent never gave up", st.ID, ls.Msgid))
				}
			case ls.Cancelled:
				cancelled = append(cancelled, ls)
			default:
				active = append(active, ls)
			}
		}
		var found []error
		switch st.State {
		case agent.StateSettled, agent.StatePaying, agent.StateRefunding:
			if len(active) != 1 || len(cancelled) != 0 {
				found = append(found, fmt.Errorf("booked: the platform holds %d active and %d cancelled settlements", len(active), len(cancelled)))
				break
			}
			found = append(found, sameSettlement(st, active[0], st.Msgids[agent.StepSettle])...)
		case agent.StateRefunded:
			if len(active) != 0 || len(cancelled) != 1 {
				found = append(found, fmt.Errorf("refunded: the platform holds %d active and %d cancelled settlements", len(active), len(cancelled)))
				break
			}
			found = append(found, sameSettlement(st, cancelled[0], st.Msgids[agent.StepSettle])...)
			if cancelled[0].CancelMsgid != st.Msgids[agent.StepCancel] {
				found = append(found, fmt.Errorf("cancelled under msgid %s; the journal's refund msgid is %s", cancelled[0].CancelMsgid, st.Msgids[agent.StepCancel]))
			}
		default:
			if len(active)+len(cancelled) != 0 {
				found = append(found, fmt.Errorf("not booked: the platform holds %d active and %d cancelled settlements", len(active), len(cancelled)))
			}
		}
		for _, err := range found {
			errs = append(errs, fmt.Errorf("%s (%s): %w", st.ID, st.State, err))
		}
	}
	errs = append(errs, books(records, start, end)...)
	return errors.Join(errs...)
}

// books are the checks of the payment leg and of the balances, the same
// with a model or without: every record's payment leg against the
// channel's orders, no booked order the journal does not name, the
// platform's balances moved by the journal's parts, and the channel's by
// its own orders.
func books(records []*agent.Settlement, start, end Ledgers) []error {
	var errs []error
	orders := map[string]paychannel.LedgerOrder{}
	for _, o := range end.Payment.Orders {
		orders[o.OrderID] = o
	}
	kinds := sourceKinds(end.Payment)
	for _, st := range records {
		for _, err := range checkPayment(st, orders, kinds) {
			errs = append(errs, fmt.Errorf("%s (%s, part %s %s): %w", st.ID, st.State, st.Pay.Status, st.Pay.Amount, err))
		}
	}
	errs = append(errs, unknownOrders(records, end.Payment)...)
	errs = append(errs, balances(records, start.Insurance, end.Insurance)...)
	errs = append(errs, sourceBalances(start.Payment, end.Payment)...)
	return errs
}

// checkBill compares one bill's final journal record and its settlements
// on the platform with the model's outcome.
func (m *Model) checkBill(b *Bill, st *agent.Settlement, booked []sandbox.LedgerSettlement) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	want := m.Expect(b)
	var active, cancelled []sandbox.LedgerSettlement
	for _, ls := range booked {
		switch {
		case ls.Reversed:
			if !slices.Contains(st.PriorMsgids, ls.Msgid) {
				bad("platform reversed %s (msgid %s), a msgid the agent never gave up", ls.SetlID, ls.Msgid)
			}
		case ls.Cancelled:
			cancelled = append(cancelled, ls)
		default:
			active = append(active, ls)
		}
	}
	var finals []agent.State
	switch want {
	case Booked:
		finals = []agent.State{agent.StateSettled}
		if len(active) != 1 || len(cancelled) != 0 {
			bad("want booked once: the platform holds %d active and %d cancelled settlements", len(active), len(cancelled))
		} else {
			errs = append(errs, sameSettlement(st, active[0], st.Msgids[agent.StepSettle])...)
		}
	case Refunded:
		finals = []agent.State{agent.StateRefunded}
		if len(active) != 0 || len(cancelled) != 1 {
			bad("want booked once and refunded: the platform holds %d active and %d cancelled settlements", len(active), len(cancelled))
			break
		}
		ls := cancelled[0]
		errs = append(errs, sameSettlement(st, ls, st.Msgids[agent.StepSettle])...)
		if ls.CancelMsgid != st.Msgids[agent.StepCancel] {
			bad("cancelled under msgid %s; the journal's refund msgid is %s", ls.CancelMsgid, st.Msgids[agent.StepCancel])
		}
		if st.Refund == nil || (!zeroSplit(st.Refund.Split) && !negated(st.Refund.Split, st.Split)) {
			bad("the journal's refund %+v does not return the settlement's %v", st.Refund, st.Split)
		}
	default:
		finals = []agent.State{agent.StateDeclined, agent.StateArrears, agent.StateVoided, agent.StateFailed}
		if len(active)+len(cancelled) != 0 {
			bad("want not booked: the platform holds %d active and %d cancelled settlements", len(active), len(cancelled))
		}
	}
	if !slices.Contains(finals, st.State) {
		bad("journal state %s; want %s (%s)", st.State, finals, want)
	}
	return errs
}

// sameSettlement compares a platform settlement with the journal record
// that booked it: the funds' share, the account's, and the patient's own
// part (which the platform books but does not take), the hospital's part
// being what is left.
func sameSettlement(st *agent.Settlement, ls sandbox.LedgerSettlement, msgid string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	sp := st.Split
	got := agent.InsuranceSplit{Total: ls.MedfeeSumamt.Fen(), Fund: ls.FundPaySumamt.Fen(), Account: ls.AcctPay.Fen(), Cash: ls.PsnCashPay.Fen()}
	got.Hospital = got.Total - got.Fund - got.Account - got.Cash
	if got.Total != sp.Total || got.Fund != sp.Fund || got.Account != sp.Account || got.Cash != sp.Cash || got.Hospital != sp.Hospital {
		bad("platform booked %v; the journal shows %v", got, sp)
	}
	if got.Total != st.Bill.Total() {
		bad("platform booked %s for a bill of %s", got.Total, st.Bill.Total())
	}
	if ls.SetlID != st.SetlID {
		bad("platform setl_id %s; the journal's is %s", ls.SetlID, st.SetlID)
	}
	if ls.Msgid != msgid || msgid == "" {
		bad("platform booked msgid %s; the journal's settlement msgid is %s", ls.Msgid, msgid)
	}
	if ls.PsnNo != st.Personal.PsnNo {
		bad("platform booked it for %s; the journal's patient is %s", ls.PsnNo, st.Personal.PsnNo)
	}
	return errs
}

// txnKind is the journal's kind of order for a channel transaction type.
var txnKind = map[string]string{acp.TxnConsume: agent.OrderPay, acp.TxnCancel: agent.OrderCancel, acp.TxnRefund: agent.OrderRefund}

// checkPayment compares one bill's payment leg with the channel's books:
// what the journal says was taken was taken once, under its order, for
// its amount, and given back if the bill was refunded; what it says was
// not taken was not.
func checkPayment(st *agent.Settlement, orders map[string]paychannel.LedgerOrder, kinds map[string]string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	leg := st.Pay
	// The channel's booked orders of this bill, by the journal's kind.
	var pays, returns []paychannel.LedgerOrder
	var paidID string
	for _, o := range leg.Orders {
		if o.Kind == agent.OrderPay && o.Status == agent.OrderSucceeded {
			if paidID != "" {
				bad("the journal records two succeeded payment orders, %s and %s", paidID, o.OrderID)
			}
			paidID = o.OrderID
		}
		lo, ok := orders[o.OrderID]
		if !ok || !lo.Booked() {
			if o.Status == agent.OrderSucceeded {
				bad("the journal's %s order %s succeeded; the channel booked nothing under it", o.Kind, o.OrderID)
			}
			continue
		}
		if txnKind[lo.TxnType] != o.Kind {
			bad("order %s is a %s in the journal, a %s (txnType %s) on the channel", o.OrderID, o.Kind, txnKind[lo.TxnType], lo.TxnType)
			continue
		}
		if o.Status != agent.OrderSucceeded {
			bad("the channel booked %s order %s (%s); the journal has it %s", o.Kind, o.OrderID, lo.Amount, o.Status)
		}
		if lo.Amount != o.Amount {
			bad("the channel booked %s under order %s; the journal's order is for %s", lo.Amount, o.OrderID, o.Amount)
		}
		if o.Kind == agent.OrderPay {
			pays = append(pays, lo)
		} else {
			returns = append(returns, lo)
		}
	}
	switch st.State {
	case agent.StateSettled, agent.StateRefunded:
		if leg.Amount != st.Split.Cash {
			bad("the payment leg is for %s; the platform's split leaves the patient %s", leg.Amount, st.Split.Cash)
		}
	}
	taken := false // the part must have been taken once
	returned := false
	switch {
	case st.State == agent.StateSettled && leg.Status == agent.PayPaid:
		taken = true
		if len(returns) != 0 {
			bad("paid and not refunded; the channel booked %d returns of it", len(returns))
		}
	case st.State == agent.StateRefunded && leg.Status == agent.PayReturned:
		taken, returned = true, true
	case st.State == agent.StateSettled && slices.Contains([]string{agent.PayNone, agent.PayPending, agent.PayConfirmRequired, agent.PayCollected}, leg.Status),
		st.State == agent.StateRefunded && slices.Contains([]string{agent.PayNone, agent.PayNotTaken, agent.PayReturnAtWindow}, leg.Status),
		st.State != agent.StateSettled && st.State != agent.StateRefunded:
		if len(pays)+len(returns) != 0 {
			bad("the patient's part is %s (%s); the channel booked %d payments and %d returns of it", leg.Status, st.State, len(pays), len(returns))
		}
		if leg.Status == agent.PayNone && leg.Amount != 0 {
			bad("nothing to pay, yet the leg is for %s", leg.Amount)
		}
		return errs
	default:
		bad("the payment leg is %s in a %s bill after the drain", leg.Status, st.State)
		return errs
	}
	if !taken || len(pays) != 1 {
		bad("the patient's part is %s: want one booked payment; the channel booked %d", leg.Status, len(pays))
		return errs
	}
	p := pays[0]
	if p.OrderID != paidID {
		bad("the channel booked order %s; the journal's paid order is %s", p.OrderID, paidID)
	}
	if p.Amount != leg.Amount {
		bad("the channel took %s; the journal's part is %s", p.Amount, leg.Amount)
	}
	if leg.Source == nil || kinds[p.Token] != leg.Source.Kind {
		bad("the channel took it from a %s; the journal says %v", kinds[p.Token], leg.Source)
	}
	switch {
	case !returned && (p.Cancelled || p.Refunded != 0):
		bad("paid and not refunded; the channel has the payment cancelled %v, refunded %s", p.Cancelled, p.Refunded)
	case returned && len(returns) != 1:
		bad("refunded: want one booked cancel or refund of the payment; the channel booked %d", len(returns))
	case returned:
		r := returns[0]
		if r.OrigQryID != p.QueryID || r.Amount != p.Amount {
			bad("the channel's return %s gives back %s of %s; want all %s of %s", r.OrderID, r.Amount, r.OrigQryID, p.Amount, p.QueryID)
		}
		if !p.Cancelled && p.Refunded != p.Amount {
			bad("the channel has the payment neither cancelled nor refunded in full (refunded %s of %s)", p.Refunded, p.Amount)
		}
	}
	return errs
}

// unknownOrders finds booked orders on the channel that no journal record
// names: money moved that the terminal does not know of.
func unknownOrders(records []*agent.Settlement, end paychannel.Ledger) []error {
	named := map[string]bool{}
	for _, st := range records {
		for _, o := range st.Pay.Orders {
			named[o.OrderID] = true
		}
	}
	var errs []error
	for _, o := range end.Orders {
		if o.Booked() && !named[o.OrderID] {
			errs = append(errs, fmt.Errorf("channel: order %s (txnType %s, %s) is booked, and no journal record names it", o.OrderID, o.TxnType, o.Amount))
		}
	}
	return errs
}

// sourceKinds maps every source's token to its kind.
func sourceKinds(l paychannel.Ledger) map[string]string {
	out := map[string]string{}
	for _, s := range l.Sources {
		out[s.Token] = s.Kind
	}
	return out
}

// sourceBalances checks, per source on the channel, that its balance
// moved by exactly the payments booked from it less what was given back.
func sourceBalances(start, end paychannel.Ledger) []error {
	moved := map[string]money.Fen{}
	for _, o := range end.Orders {
		if !o.Booked() {
			continue
		}
		switch o.TxnType {
		case acp.TxnConsume:
			moved[o.Token] -= o.Amount
		case acp.TxnCancel, acp.TxnRefund:
			moved[o.Token] += o.Amount
		}
	}
	was := map[string]money.Fen{}
	for _, s := range start.Sources {
		was[s.Token] = s.Balance
	}
	var errs []error
	for _, s := range end.Sources {
		before, ok := was[s.Token]
		if !ok {
			errs = append(errs, fmt.Errorf("channel: source %s (%s of %s) is not in the starting books", s.Masked, s.Kind, s.Holder))
			continue
		}
		if want := before + moved[s.Token]; s.Balance != want {
			errs = append(errs, fmt.Errorf("channel: source %s (%s of %s) holds %s; from %s and the orders booked it should hold %s",
				s.Masked, s.Kind, s.Holder, s.Balance, before, want))
		}
	}
	return errs
}

// balances checks, per person, that the personal account and the fund's
// yearly consumption moved by exactly what the journal's booked bills
// say (a refunded bill gave everything back), and that the platform moved
// nothing else: it debits no bank card and no credit line.
func balances(records []*agent.Settlement, start, end sandbox.Ledger) []error {
	account := map[string]money.Fen{}
	fund := map[string]money.Fen{}
	for _, st := range records {
		// Booked and not cancelled: settled, between the legs, or a refund
		// whose 2208 is not done yet.
		switch {
		case st.State == agent.StateSettled, st.State == agent.StatePaying:
		case st.State == agent.StateRefunding && st.Refund != nil && !st.Refund.Insured:
		default:
			continue
		}
		fund[st.Personal.PsnNo] += st.Split.Fund
		account[st.Personal.PsnNo] += st.Split.Account
	}
	before := map[string]sandbox.LedgerPerson{}
	for _, p := range start.People {
		before[p.PsnNo] = p
	}
	var errs []error
	for _, after := range end.People {
		was, ok := before[after.PsnNo]
		if !ok {
			errs = append(errs, fmt.Errorf("person %s (%s) is not in the starting ledger", after.Key, after.PsnNo))
			continue
		}
		if want := was.AccountBalance.Fen() - account[after.PsnNo]; after.AccountBalance.Fen() != want {
			errs = append(errs, fmt.Errorf("person %s: %s holds %s; from %s less the journal's account parts it should hold %s",
				after.Key, protocol.SourceAccount, after.AccountBalance.Fen(), was.AccountBalance.Fen(), want))
		}
		for _, src := range []struct {
			name       string
			was, after money.Decimal
		}{
			{protocol.SourceBank, was.BankBalance, after.BankBalance},
			{protocol.SourceCredit, was.CreditAvailable, after.CreditAvailable},
		} {
			if src.after != src.was {
				errs = append(errs, fmt.Errorf("person %s: the platform moved the %s from %s to %s; only the payment channel takes the patient's part",
					after.Key, src.name, src.was.Fen(), src.after.Fen()))
			}
		}
		if got, want := fundPaid(after)-fundPaid(was), fund[after.PsnNo]; got != want {
			errs = append(errs, fmt.Errorf("person %s: the fund paid %s more; the journal's settled bills say %s", after.Key, got, want))
		}
	}
	return errs
}

func fundPaid(p sandbox.LedgerPerson) money.Fen {
	var sum money.Fen
	for _, u := range p.Years {
		sum += u.FundPaid.Fen()
	}
	return sum
}

package model

import (
	"errors"
	"fmt"
	"slices"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
)

// Check compares the end of a run with the model, once every fault is
// healed and the backlog drained: the agent's journal (every record, with
// its personal fields) and the platform's ledger at the start and at the
// end of the run. It returns every difference found, joined.
//
// Per bill: the journal's final state is the one the model's outcome
// allows; the platform holds exactly the settlements the outcome says
// (found by chrg_bchno, which is the agent's settlement id), each with the
// msgid, setl_id, amounts and payment the journal shows; any other
// settlement of the bill was reversed by the agent under a msgid it gave
// up. Per person: the balances of every funding source and the fund's
// consumption moved by exactly what the journal says was paid.
func (m *Model) Check(records []*agent.Settlement, start, end sandbox.Ledger) error {
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
		case agent.StateAccepted, agent.StateSettling, agent.StateInDoubt, agent.StateReversing, agent.StateRefunding, agent.StateDeferred:
			bad("journal: %s (%s) is still %s after the drain", st.ID, st.IdempotencyKey, st.State)
		}
	}
	booked := map[string][]sandbox.LedgerSettlement{}
	for _, ls := range end.Settlements {
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
	errs = append(errs, balances(records, start, end)...)
	return errors.Join(errs...)
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
			errs = append(errs, sameSettlement(st, active[0], st.Msgids[protocol.Settle.Infno])...)
		}
	case Refunded:
		finals = []agent.State{agent.StateRefunded}
		if len(active) != 0 || len(cancelled) != 1 {
			bad("want booked once and refunded: the platform holds %d active and %d cancelled settlements", len(active), len(cancelled))
			break
		}
		ls := cancelled[0]
		errs = append(errs, sameSettlement(st, ls, st.Msgids[protocol.Settle.Infno])...)
		if ls.CancelMsgid != st.Msgids[protocol.CancelSettle.Infno] {
			bad("cancelled under msgid %s; the journal's refund msgid is %s", ls.CancelMsgid, st.Msgids[protocol.CancelSettle.Infno])
		}
		if st.Refund == nil || (st.Refund.Split != (agent.Split{}) && !negated(st.Refund.Split, st.Split)) {
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
// that booked it.
func sameSettlement(st *agent.Settlement, ls sandbox.LedgerSettlement, msgid string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	sp := st.Split
	got := agent.Split{Total: ls.MedfeeSumamt.Fen(), Fund: ls.FundPaySumamt.Fen(), Account: ls.AcctPay.Fen(), SelfPay: ls.PsnCashPay.Fen()}
	if got.Total != sp.Total || got.Fund != sp.Fund || got.Account != sp.Account || got.SelfPay != sp.SelfPay {
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
	if st.State == agent.StateSettled && (ls.Status != st.Payment.Status || ls.Source != st.Payment.Source) {
		bad("platform payment %s from %q; the journal shows %s from %q", ls.Status, ls.Source, st.Payment.Status, st.Payment.Source)
	}
	return errs
}

// balances checks, per person, that each funding source and the fund's
// yearly consumption moved by exactly what the journal's settled bills
// say: a refunded bill gave everything back, a pending self-pay took
// nothing.
func balances(records []*agent.Settlement, start, end sandbox.Ledger) []error {
	type key struct{ psn, source string }
	debit := map[key]money.Fen{}
	fund := map[string]money.Fen{}
	for _, st := range records {
		if st.State != agent.StateSettled {
			continue
		}
		fund[st.Personal.PsnNo] += st.Split.Fund
		if st.Payment.Source == "" {
			continue
		}
		payer := st.Personal.PayerPsnNo
		if payer == "" {
			payer = st.Personal.PsnNo
		}
		debit[key{payer, st.Payment.Source}] += st.Split.Account + st.Split.SelfPay
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
		for _, src := range []struct {
			name       string
			was, after money.Decimal
		}{
			{protocol.SourceAccount, was.AccountBalance, after.AccountBalance},
			{protocol.SourceBank, was.BankBalance, after.BankBalance},
			{protocol.SourceCredit, was.CreditAvailable, after.CreditAvailable},
		} {
			if want := src.was.Fen() - debit[key{after.PsnNo, src.name}]; src.after.Fen() != want {
				errs = append(errs, fmt.Errorf("person %s: %s holds %s; from %s less the journal's debits it should hold %s",
					after.Key, src.name, src.after.Fen(), src.was.Fen(), want))
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

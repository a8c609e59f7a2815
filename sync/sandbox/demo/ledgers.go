package demo

import (
	"context"
	"fmt"
	"strings"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/paychannel"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// Books is the end of the day on both counterparties' own ledgers, held
// against the agent's journal: what the sandbox booked, not what the agent
// says it booked (its reconciliation is the agent's own view).
type Books struct {
	Standing, Cancelled        int // insurance settlements standing, cancelled by refunds
	Total, Fund, Account, Cash money.Fen
	Paid                       int // patients' parts the channel took and kept
	PaidAmount                 money.Fen
	Returned                   int // parts it gave back (refunds)
	ReturnedAmount             money.Fen
	Problems                   []string
}

// Balanced reports whether the journal and both ledgers agree.
func (b Books) Balanced() bool { return len(b.Problems) == 0 }

func (b Books) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "insurance platform: %d settlements standing, total %s = fund %s + account %s + cash %s (+ the hospital's part); %d cancelled by a refund\n",
		b.Standing, b.Total, b.Fund, b.Account, b.Cash, b.Cancelled)
	fmt.Fprintf(&s, "payment channel: %d patients' parts taken, %s; %d given back, %s\n", b.Paid, b.PaidAmount, b.Returned, b.ReturnedAmount)
	if b.Balanced() {
		s.WriteString("the journal agrees with both ledgers, to the fen\n")
	}
	for _, p := range b.Problems {
		s.WriteString("DIFFERS: " + p + "\n")
	}
	return s.String()
}

// CheckBooks reads every settlement from the agent (with its payment
// orders) and compares it with the platform's ledger and the channel's:
// every settlement standing at the platform is a settled bill's, with its
// amounts, and a refunded bill's is cancelled; every part the agent shows
// paid was taken once by the order it recorded, and every part it gave
// back was given back by the channel; nothing else moved money.
func CheckBooks(ctx context.Context, c *api.Client, ins sandbox.Ledger, pay paychannel.Ledger) (Books, error) {
	list, err := c.List(ctx, "", 10000, false)
	if err != nil {
		return Books{}, fmt.Errorf("list the journal: %w", err)
	}
	var b Books
	bad := func(format string, args ...any) { b.Problems = append(b.Problems, fmt.Sprintf(format, args...)) }

	standing, cancelled := map[string][]sandbox.LedgerSettlement{}, map[string]int{}
	for _, ls := range ins.Settlements {
		switch {
		case ls.Reversed:
		case ls.Cancelled:
			cancelled[ls.ChrgBchno]++
			b.Cancelled++
		default:
			standing[ls.ChrgBchno] = append(standing[ls.ChrgBchno], ls)
			b.Standing++
			b.Total, b.Fund, b.Account, b.Cash = b.Total+ls.MedfeeSumamt.Fen(), b.Fund+ls.FundPaySumamt.Fen(), b.Account+ls.AcctPay.Fen(), b.Cash+ls.PsnCashPay.Fen()
		}
	}
	orders := map[string]paychannel.LedgerOrder{}
	for _, o := range pay.Orders {
		orders[o.OrderID] = o
	}
	known := map[string]bool{} // settlement ids, and the payment orders the agent sent
	for _, item := range list {
		v, err := c.Get(ctx, item.ID, false) // the detail: its payment orders
		if err != nil {
			return b, fmt.Errorf("settlement %s: %w", item.ID, err)
		}
		known[v.ID] = true
		got := standing[v.ID]
		switch v.State {
		case agent.StateSettled, agent.StatePaying:
			if len(got) != 1 {
				bad("%s is %s; the platform holds %d settlements of it standing, want 1", v.ID, v.State, len(got))
				break
			}
			ls := got[0]
			if ls.SetlID != v.SetlID || ls.MedfeeSumamt.Fen() != v.Split.Total || ls.FundPaySumamt.Fen() != v.Split.Fund ||
				ls.AcctPay.Fen() != v.Split.Account || ls.PsnCashPay.Fen() != v.Split.Cash {
				bad("%s: the platform booked %s: %s, fund %s, account %s, cash %s; the receipt says %s %s",
					v.ID, ls.SetlID, ls.MedfeeSumamt.Fen(), ls.FundPaySumamt.Fen(), ls.AcctPay.Fen(), ls.PsnCashPay.Fen(), v.SetlID, v.Split)
			}
		case agent.StateRefunded:
			if len(got) != 0 || cancelled[v.ID] == 0 {
				bad("%s is refunded; the platform holds %d standing and %d cancelled settlements of it", v.ID, len(got), cancelled[v.ID])
			}
		default:
			if len(got) != 0 {
				bad("%s is %s, yet the platform holds settlement %s of it", v.ID, v.State, got[0].SetlID)
			}
		}
		for _, o := range v.Pay.Orders {
			known[o.OrderID] = true
			checkOrder(&b, bad, v, o, orders[o.OrderID])
		}
	}
	for id, list := range standing {
		if !known[id] {
			bad("the platform holds settlement %s for %s, which the agent does not know", list[0].SetlID, id)
		}
	}
	for id, o := range orders {
		if !known[id] && o.Booked() {
			bad("the payment channel booked order %s (type %s, %s), which no settlement sent", id, o.TxnType, o.Amount)
		}
	}
	return b, nil
}

// checkOrder holds one of the agent's payment orders against the
// channel's record of it (zero when the channel has none).
func checkOrder(b *Books, bad func(string, ...any), v api.SettlementView, o agent.PayOrderRecord, c paychannel.LedgerOrder) {
	want := map[string]string{agent.OrderPay: acp.TxnConsume, agent.OrderCancel: acp.TxnCancel, agent.OrderRefund: acp.TxnRefund}[o.Kind]
	switch o.Status {
	case agent.OrderSucceeded:
		if !c.Booked() || c.TxnType != want || c.Amount != o.Amount || c.QueryID != o.QueryID {
			bad("%s: its %s order %s of %s succeeded; the channel booked %s of type %s (%s)", v.ID, o.Kind, o.OrderID, o.Amount, c.Amount, c.TxnType, c.QueryID)
			return
		}
		switch {
		case o.Kind != agent.OrderPay:
			b.Returned++
			b.ReturnedAmount += o.Amount
		case v.Pay.Status == agent.PayPaid:
			if c.Cancelled || c.Refunded != 0 {
				bad("%s: its part is paid, but the channel gave payment %s back", v.ID, o.OrderID)
			}
			b.Paid++
			b.PaidAmount += o.Amount
		case v.Pay.Status == agent.PayReturned:
			if !c.Cancelled && c.Refunded != c.Amount {
				bad("%s: its part was returned, but the channel still holds %s of payment %s", v.ID, c.Amount-c.Refunded, o.OrderID)
			}
		default:
			bad("%s: order %s succeeded, yet its part is %s", v.ID, o.OrderID, v.Pay.Status)
		}
	case agent.OrderRefused:
		if c.Booked() {
			bad("%s: its order %s was refused here, but the channel booked %s", v.ID, o.OrderID, c.Amount)
		}
	default:
		bad("%s: order %s is still %s at the end of the day", v.ID, o.OrderID, o.Status)
	}
}

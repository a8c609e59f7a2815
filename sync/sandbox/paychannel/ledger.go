package paychannel

import (
	"encoding/json"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent/mask"
	"github.com/seed-a859fada/medterm/agent/money"
)

// Ledger is the channel's books, for tests and the admin endpoint. Holders
// are masked: the ledger is output.
type Ledger struct {
	// Orders are the payments, cancels and refunds the channel answered
	// (agreement calls are left out), by merchant and orderId.
	Orders []LedgerOrder `json:"orders"`
	// Sources are every source of every agreement, with its balance now.
	Sources []LedgerSource `json:"sources"`
	// Usage is what each agreement paid password-free per Beijing day:
	// "AG…/2026-03-10" → fen.
	Usage map[string]money.Fen `json:"usage"`
}

// LedgerOrder is one order as the channel booked it.
type LedgerOrder struct {
	MerID     string    `json:"mer_id"`
	OrderID   string    `json:"order_id"`
	TxnType   string    `json:"txn_type"`
	Code      string    `json:"code"` // the order's true outcome
	QueryID   string    `json:"query_id,omitempty"`
	Amount    money.Fen `json:"amount_fen"` // booked; 0 when refused
	SettleDay string    `json:"settle_day,omitempty"`
	Token     string    `json:"token,omitempty"`
	Confirmed bool      `json:"confirmed,omitempty"`
	OrigQryID string    `json:"orig_qry_id,omitempty"`
	Refunded  money.Fen `json:"refunded_fen,omitempty"`
	Cancelled bool      `json:"cancelled,omitempty"`
}

// Booked reports whether the order moved money.
func (o LedgerOrder) Booked() bool { return o.QueryID != "" && o.Amount > 0 }

// LedgerSource is one source and its balance.
type LedgerSource struct {
	Agreement string    `json:"agreement"`
	Holder    string    `json:"holder"` // masked ID number
	Kind      string    `json:"kind"`
	Token     string    `json:"token"`
	Masked    string    `json:"masked"`
	Balance   money.Fen `json:"balance_fen"` // a credit line's: unused
	Cancelled bool      `json:"cancelled,omitempty"`
}

// Ledger reads the books.
func (c *Channel) Ledger() (Ledger, error) {
	l := Ledger{Usage: map[string]money.Fen{}}
	err := c.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketOrders).ForEach(func(k, v []byte) error {
			var o orderRec
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("%w: order %s: %v", ErrState, k, err)
			}
			if len(o.TxnType) == 2 && o.TxnType[0] == 'M' {
				return nil
			}
			l.Orders = append(l.Orders, LedgerOrder{MerID: o.MerID, OrderID: o.OrderID, TxnType: o.TxnType, Code: o.Code,
				QueryID: o.QueryID, Amount: o.Amount, SettleDay: o.SettleDay, Token: o.Token, Confirmed: o.Confirmed,
				OrigQryID: o.OrigQryID, Refunded: o.Refunded, Cancelled: o.Cancelled})
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketAgreements).ForEach(func(k, v []byte) error {
			var a agreementRec
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("%w: agreement %s: %v", ErrState, k, err)
			}
			for _, s := range a.Sources {
				l.Sources = append(l.Sources, LedgerSource{Agreement: a.ID, Holder: mask.IDNo(a.Holder), Kind: s.Kind,
					Token: s.Token, Masked: s.Masked, Balance: s.Balance, Cancelled: s.Cancelled})
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketUsage).ForEach(func(k, v []byte) error {
			var f money.Fen
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("%w: usage %s: %v", ErrState, k, err)
			}
			l.Usage[string(k)] = f
			return nil
		})
	})
	sort.Slice(l.Sources, func(i, j int) bool { return l.Sources[i].Token < l.Sources[j].Token })
	return l, err
}

// Balance returns the balance of the source with token, for tests.
func (l Ledger) Balance(token string) (money.Fen, bool) {
	for _, s := range l.Sources {
		if s.Token == token {
			return s.Balance, true
		}
	}
	return 0, false
}

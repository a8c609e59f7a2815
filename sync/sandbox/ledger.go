package sandbox

import (
	"context"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// Ledger is a snapshot of everything the platform has booked, for tests
// and demos to compare with what the agent acknowledged. It carries psn_no
// but never an ID number or a name.
type Ledger struct {
	Time        string             `json:"time"`
	Settlements []LedgerSettlement `json:"settlements"` // oldest first
	People      []LedgerPerson     `json:"people"`      // in data set order
	// Tombstones are msgids reversed before they arrived: refused forever.
	Tombstones []string `json:"tombstones"`
}

// LedgerSettlement is one settlement and what became of it.
type LedgerSettlement struct {
	SetlID        string        `json:"setl_id"`
	Msgid         string        `json:"msgid"`
	Institution   string        `json:"institution"`
	DevNo         string        `json:"dev_no"`
	MdtrtID       string        `json:"mdtrt_id"`
	ChrgBchno     string        `json:"chrg_bchno"`
	PsnNo         string        `json:"psn_no"`
	Insutype      string        `json:"insutype"`
	SetlTime      string        `json:"setl_time"`
	MedfeeSumamt  money.Decimal `json:"medfee_sumamt"`
	FundPaySumamt money.Decimal `json:"fund_pay_sumamt"`
	AcctPay       money.Decimal `json:"acct_pay"`
	PsnCashPay    money.Decimal `json:"psn_cash_pay"`
	Status        string        `json:"status"` // payment status of the self-pay part
	Source        string        `json:"source,omitempty"`
	PayerPsnNo    string        `json:"payer_psn_no,omitempty"`
	AuthNo        string        `json:"auth_no,omitempty"`
	Reason        string        `json:"reason,omitempty"`
	Cancelled     bool          `json:"cancelled"`
	CancelMsgid   string        `json:"cancel_msgid,omitempty"`
	Reversed      bool          `json:"reversed"`
	ReverseMsgid  string        `json:"reverse_msgid,omitempty"`
}

// LedgerPerson is a person's balances and consumption.
type LedgerPerson struct {
	Key             string                 `json:"key"`
	PsnNo           string                 `json:"psn_no"`
	AccountBalance  money.Decimal          `json:"account_balance"`
	BankBalance     money.Decimal          `json:"bank_balance"`
	CreditAvailable money.Decimal          `json:"credit_available"`
	Years           map[string]LedgerUsage `json:"years"`
	// Days is the password-free debit total per CST day.
	Days map[string]money.Decimal `json:"days"`
}

// LedgerUsage is one year's deductible and fund consumption.
type LedgerUsage struct {
	DeductibleUsed money.Decimal `json:"deductible_used"`
	FundPaid       money.Decimal `json:"fund_paid"`
}

// Ledger reads a consistent snapshot of the state.
func (p *Platform) Ledger(ctx context.Context) (Ledger, error) {
	if err := ctx.Err(); err != nil {
		return Ledger{}, err
	}
	l := Ledger{Time: protocol.FormatInfTime(p.clock.Now()), Settlements: []LedgerSettlement{}, Tombstones: []string{}}
	err := p.db.View(func(tx *bolt.Tx) error {
		var all []settlement
		if err := tx.Bucket(bucketSettlements).ForEach(func(_, v []byte) error {
			var s settlement
			if err := unmarshalState(v, &s); err != nil {
				return err
			}
			all = append(all, s)
			return nil
		}); err != nil {
			return err
		}
		sort.SliceStable(all, func(i, j int) bool {
			if !all[i].Time.Equal(all[j].Time) {
				return all[i].Time.Before(all[j].Time)
			}
			return all[i].SetlID < all[j].SetlID
		})
		for _, s := range all {
			l.Settlements = append(l.Settlements, ledgerSettlement(s))
		}
		for _, person := range p.data.People {
			var s personState
			if _, err := getJSON(tx, bucketPeople, []byte(person.PsnNo), &s); err != nil {
				return err
			}
			l.People = append(l.People, ledgerPerson(person.Key, s))
		}
		return tx.Bucket(bucketTombstones).ForEach(func(k, _ []byte) error {
			l.Tombstones = append(l.Tombstones, string(k))
			return nil
		})
	})
	if err != nil {
		return Ledger{}, err
	}
	return l, nil
}

func ledgerSettlement(s settlement) LedgerSettlement {
	return LedgerSettlement{
		SetlID: s.SetlID, Msgid: s.Msgid, Institution: s.Institution, DevNo: s.DevNo, MdtrtID: s.MdtrtID, ChrgBchno: s.ChrgBchno,
		PsnNo: s.PsnNo, Insutype: s.Insutype, SetlTime: protocol.FormatInfTime(s.Time),
		MedfeeSumamt: money.Decimal(s.Total), FundPaySumamt: money.Decimal(s.Fund),
		AcctPay: money.Decimal(s.AcctPay), PsnCashPay: money.Decimal(s.CashPay),
		Status: s.Status, Source: s.Source, PayerPsnNo: s.PayerPsnNo, AuthNo: s.AuthNo, Reason: s.Reason,
		Cancelled: s.Cancelled, CancelMsgid: s.CancelMsgid, Reversed: s.Reversed, ReverseMsgid: s.ReverseMsgid,
	}
}

func ledgerPerson(key string, s personState) LedgerPerson {
	lp := LedgerPerson{
		Key: key, PsnNo: s.PsnNo,
		AccountBalance: money.Decimal(s.Account), BankBalance: money.Decimal(s.Bank), CreditAvailable: money.Decimal(s.Credit),
		Years: map[string]LedgerUsage{}, Days: map[string]money.Decimal{},
	}
	for y, u := range s.Years {
		lp.Years[y] = LedgerUsage{DeductibleUsed: money.Decimal(u.DeductibleUsed), FundPaid: money.Decimal(u.FundPaid)}
	}
	for d, f := range s.Days {
		lp.Days[d] = money.Decimal(f)
	}
	return lp
}

// Person returns the ledger entry of the person with a persona key.
func (l Ledger) Person(key string) (LedgerPerson, bool) {
	for _, p := range l.People {
		if p.Key == key {
			return p, true
		}
	}
	return LedgerPerson{}, false
}

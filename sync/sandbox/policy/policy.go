// Package policy holds the sandbox platform's payment rules as pure
// functions: how a fee item splits by class, what the pooled fund pays
// after the yearly deductible and up to the yearly cap, who pays the
// self-pay part and from which source. Nothing here reads a clock, a file
// or a database, so every rule is tested with amounts to the fen.
//
// Rounding is always down to the fen for a percentage, and every remainder
// is computed by subtraction, so the parts of a split add up exactly.
package policy

import (
	"fmt"
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// Rules are the policy numbers of one platform. The sandbox reads them from
// the persona file's policy section.
type Rules struct {
	// Insurance holds the outpatient pooled-fund rule per insurance type
	// (310, 390).
	Insurance map[string]Insurance
	// ClassBSelfPct is the share of a class B item paid by the patient
	// first (preselfpay_amt), in percent.
	ClassBSelfPct int64
	// LimitPerTxn and LimitDaily are the platform's password-free debit
	// limits; a payer may set lower ones, never higher.
	LimitPerTxn money.Fen
	LimitDaily  money.Fen
	// CreditMinAge and CreditMaxAge bound, inclusively, the payer's age for
	// the medical credit line.
	CreditMinAge int
	CreditMaxAge int
}

// Insurance is the outpatient pooled-fund rule of one insurance type.
type Insurance struct {
	Deductible money.Fen // per person per calendar year
	RatioPct   int64     // share of the eligible amount above the deductible
	YearCap    money.Fen // most the fund pays per person per calendar year
	// PersonalAccount tells whether insured people of this type have a
	// personal account (employee insurance does, resident insurance not).
	PersonalAccount bool
}

// Validate checks that the rules can be applied.
func (r Rules) Validate() error {
	if len(r.Insurance) == 0 {
		return fmt.Errorf("%w: no insurance type", ErrRules)
	}
	for t, in := range r.Insurance {
		switch {
		case in.Deductible < 0 || in.YearCap < 0:
			return fmt.Errorf("%w: insurance %s: negative deductible or cap", ErrRules, t)
		case in.RatioPct < 0 || in.RatioPct > 100:
			return fmt.Errorf("%w: insurance %s: ratio %d%% is not within 0-100", ErrRules, t, in.RatioPct)
		}
	}
	switch {
	case r.ClassBSelfPct < 0 || r.ClassBSelfPct > 100:
		return fmt.Errorf("%w: class B self-pay %d%% is not within 0-100", ErrRules, r.ClassBSelfPct)
	case r.LimitPerTxn <= 0 || r.LimitDaily <= 0:
		return fmt.Errorf("%w: password-free limits must be positive", ErrRules)
	case r.CreditMinAge < 0 || r.CreditMaxAge < r.CreditMinAge:
		return fmt.Errorf("%w: credit ages %d-%d", ErrRules, r.CreditMinAge, r.CreditMaxAge)
	}
	return nil
}

// Item is the platform's split of one fee item. Total = FullOwnPay +
// Overlimit + PreSelfPay + Eligible, always.
type Item struct {
	Total      money.Fen
	FullOwnPay money.Fen // fulamt_ownpay_amt: class C, wholly self-paid
	Overlimit  money.Fen `json:",omitempty"` // overlmt_selfpay: above the catalogue's price limit
	PreSelfPay money.Fen // preselfpay_amt: class B's first self-paid share
	Eligible   money.Fen // inscp_scp_amt: within the fund's scope
}

// SplitItem splits an item's amount by its class (chrgitm_lv).
func (r Rules) SplitItem(class string, amount money.Fen) (Item, error) {
	if amount <= 0 || amount > money.Max {
		return Item{}, fmt.Errorf("%w: amount %s is not positive", ErrItem, amount)
	}
	it := Item{Total: amount}
	switch class {
	case protocol.ClassA:
		it.Eligible = amount
	case protocol.ClassB:
		it.PreSelfPay = amount.Percent(r.ClassBSelfPct)
		it.Eligible = amount - it.PreSelfPay
	case protocol.ClassC:
		it.FullOwnPay = amount
	default:
		return Item{}, fmt.Errorf("%w: unknown class %q (want 01, 02 or 03)", ErrItem, class)
	}
	return it, nil
}

// SplitItemOver splits an item whose price is over the catalogue's limit:
// the part above the limit (over) is self-paid in full, the rest splits by
// class.
func (r Rules) SplitItemOver(class string, amount, over money.Fen) (Item, error) {
	if over <= 0 {
		return r.SplitItem(class, amount)
	}
	if over >= amount {
		return Item{}, fmt.Errorf("%w: over-limit %s is not below the amount %s", ErrItem, over, amount)
	}
	it, err := r.SplitItem(class, amount-over)
	if err != nil {
		return Item{}, err
	}
	it.Total, it.Overlimit = amount, over
	return it, nil
}

// HospitalPart is the hospital's share of a bill's personal part (a
// waiver, 医院减免), in percent, rounded down: the rest stays the patient's.
func HospitalPart(personal money.Fen, pct int64) money.Fen {
	if personal <= 0 || pct <= 0 {
		return 0
	}
	return personal.Percent(min(pct, 100))
}

// Sum adds items up.
func Sum(items []Item) Item {
	var s Item
	for _, it := range items {
		s.Total += it.Total
		s.FullOwnPay += it.FullOwnPay
		s.Overlimit += it.Overlimit
		s.PreSelfPay += it.PreSelfPay
		s.Eligible += it.Eligible
	}
	return s
}

// YearUsage is what a person has consumed of one calendar year's
// deductible and fund cap.
type YearUsage struct {
	DeductibleUsed money.Fen `json:"deductible_used"`
	FundPaid       money.Fen `json:"fund_paid"`
}

// Add returns u plus d (d may be negative, to undo a settlement).
func (u YearUsage) Add(d YearUsage) YearUsage {
	return YearUsage{DeductibleUsed: u.DeductibleUsed + d.DeductibleUsed, FundPaid: u.FundPaid + d.FundPaid}
}

// Neg returns -u.
func (u YearUsage) Neg() YearUsage {
	return YearUsage{DeductibleUsed: -u.DeductibleUsed, FundPaid: -u.FundPaid}
}

// Fund is the pooled fund's share of a bill and what it consumes of the
// year.
type Fund struct {
	Pay      money.Fen // fund_pay_sumamt
	Consumed YearUsage // deductible applied and fund paid by this bill
	Capped   bool      // the yearly cap cut the fund's share
}

// Fund computes the pooled fund's share of an eligible amount: the part
// above what remains of the yearly deductible, at the type's ratio, cut to
// what remains of the yearly cap.
func (r Rules) Fund(insutype string, eligible money.Fen, used YearUsage) (Fund, error) {
	in, ok := r.Insurance[insutype]
	if !ok {
		return Fund{}, fmt.Errorf("%w: unknown insurance type %q", ErrRules, insutype)
	}
	if eligible < 0 {
		return Fund{}, fmt.Errorf("%w: negative eligible amount %s", ErrRules, eligible)
	}
	deductibleLeft := money.Max0(in.Deductible - used.DeductibleUsed)
	applied := money.Min(eligible, deductibleLeft)
	pay := (eligible - applied).Percent(in.RatioPct)
	capLeft := money.Max0(in.YearCap - used.FundPaid)
	f := Fund{Pay: money.Min(pay, capLeft), Consumed: YearUsage{DeductibleUsed: applied}}
	f.Capped = f.Pay < pay
	f.Consumed.FundPaid = f.Pay
	return f, nil
}

// AgeOn returns the age in whole years on date of someone born on birth,
// both read as calendar dates in their own locations. Someone born on
// 29 February has their birthday on 1 March in common years.
func AgeOn(birth, date time.Time) int {
	bm, bd := birth.Month(), birth.Day()
	if bm == time.February && bd == 29 && !leap(date.Year()) {
		bm, bd = time.March, 1
	}
	age := date.Year() - birth.Year()
	if date.Month() < bm || (date.Month() == bm && date.Day() < bd) {
		age--
	}
	return age
}

func leap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

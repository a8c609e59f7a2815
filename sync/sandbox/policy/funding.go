package policy

import (
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// AdultAge is the age from which a patient's own agreement counts: minors
// are covered only through a family member's agreement.
const AdultAge = 18

// Family relations a signer may cover. No others: a cousin or a friend
// cannot be added.
const (
	RelationSpouse = "spouse"
	RelationParent = "parent"
	RelationChild  = "child"
)

// ValidRelation reports whether a family-pay link may have relation r.
func ValidRelation(r string) bool {
	switch r {
	case RelationSpouse, RelationParent, RelationChild:
		return true
	}
	return false
}

// Coverage is who pays a patient's self-pay part, and how.
type Coverage int

const (
	// CoverNone: no agreement covers the patient; the self-pay part waits.
	CoverNone Coverage = iota
	// CoverOwn: the patient's own agreement.
	CoverOwn
	// CoverFamily: a signer's agreement through a frictionless link.
	CoverFamily
	// CoverFamilyConfirm: a signer's agreement through a confirm-first
	// link; nothing is debited until the patient confirms.
	CoverFamilyConfirm
)

// Link is a family-pay link that covers the patient.
type Link struct {
	Relation string
	Mode     string // protocol.FamilyFrictionless or protocol.FamilyConfirmFirst
}

// ResolveCoverage decides how a patient is covered: by their own agreement
// if they have one and are adults, else by a valid family link, else not.
func ResolveCoverage(patientAge int, ownAgreement bool, link *Link) Coverage {
	if ownAgreement && patientAge >= AdultAge {
		return CoverOwn
	}
	if link == nil || !ValidRelation(link.Relation) {
		return CoverNone
	}
	switch link.Mode {
	case protocol.FamilyFrictionless:
		return CoverFamily
	case protocol.FamilyConfirmFirst:
		return CoverFamilyConfirm
	}
	return CoverNone
}

// Payer is the state of whoever pays the self-pay part, at the time of the
// settlement.
type Payer struct {
	PsnNo    string
	Insutype string
	Age      int
	// Sources lists the agreement's funding sources in the payer's
	// priority order (protocol.SourceAccount, SourceBank, SourceCredit).
	Sources         []string
	AccountBalance  money.Fen
	BankBalance     money.Fen
	CreditAvailable money.Fen
	// OwnLimitPerTxn and OwnLimitDaily are the payer's own lower limits;
	// zero means none set.
	OwnLimitPerTxn money.Fen
	OwnLimitDaily  money.Fen
	// UsedToday is what was already debited password-free today.
	UsedToday money.Fen
}

// Limits returns the payer's effective password-free limits: the
// platform's, lowered by the payer's own.
func (r Rules) Limits(p Payer) (perTxn, daily money.Fen) {
	perTxn, daily = r.LimitPerTxn, r.LimitDaily
	if p.OwnLimitPerTxn > 0 {
		perTxn = money.Min(perTxn, p.OwnLimitPerTxn)
	}
	if p.OwnLimitDaily > 0 {
		daily = money.Min(daily, p.OwnLimitDaily)
	}
	return perTxn, daily
}

// CanUseAccount reports whether a payer's personal account may pay: only
// insurance types that have one, and only when the bill allows it
// (acct_used_flag "1").
func (r Rules) CanUseAccount(p Payer, acctUsed bool) bool {
	return acctUsed && r.Insurance[p.Insutype].PersonalAccount
}

// CanUseCredit reports whether the payer's age allows the credit line.
func (r Rules) CanUseCredit(p Payer) bool {
	return p.Age >= r.CreditMinAge && p.Age <= r.CreditMaxAge
}

// Payment is the decision about a self-pay amount. AcctPay + CashPay is
// always the whole self-pay amount: paid from the personal account, paid
// from another source, or owed.
type Payment struct {
	Status     string // protocol.PayPaid, PayPending, PayConfirmRequired
	Source     string // the source that paid, for PayPaid with an amount
	PayerPsnNo string
	Reason     string // err_code-style reason when not paid
	AcctPay    money.Fen
	CashPay    money.Fen
}

// Debited reports whether the payment takes money from a source.
func (p Payment) Debited() bool { return p.Status == protocol.PayPaid && p.Source != "" }

// Pay decides how a self-pay amount is funded. The first source in the
// payer's order that covers all of it pays all of it; a bill is never split
// across sources and never half-paid. Over a limit, or with no source able
// to pay, the whole amount is left pending with the reason.
func (r Rules) Pay(selfPay money.Fen, acctUsed bool, cov Coverage, p Payer) Payment {
	if selfPay <= 0 {
		return Payment{Status: protocol.PayPaid}
	}
	pending := func(status, reason string) Payment {
		return Payment{Status: status, Reason: reason, PayerPsnNo: p.PsnNo, CashPay: selfPay}
	}
	switch cov {
	case CoverNone:
		return Payment{Status: protocol.PayPending, Reason: protocol.CodeNoAgreement, CashPay: selfPay}
	case CoverFamilyConfirm:
		return pending(protocol.PayConfirmRequired, protocol.CodeConfirmRequired)
	}
	perTxn, daily := r.Limits(p)
	if selfPay > perTxn {
		return pending(protocol.PayPending, protocol.CodeLimitPerTxn)
	}
	if p.UsedToday+selfPay > daily {
		return pending(protocol.PayPending, protocol.CodeLimitDaily)
	}
	for _, src := range p.Sources {
		paid := Payment{Status: protocol.PayPaid, Source: src, PayerPsnNo: p.PsnNo}
		switch src {
		case protocol.SourceAccount:
			if r.CanUseAccount(p, acctUsed) && p.AccountBalance >= selfPay {
				paid.AcctPay = selfPay
				return paid
			}
		case protocol.SourceBank:
			if p.BankBalance >= selfPay {
				paid.CashPay = selfPay
				return paid
			}
		case protocol.SourceCredit:
			if r.CanUseCredit(p) && p.CreditAvailable >= selfPay {
				paid.CashPay = selfPay
				return paid
			}
		}
	}
	return pending(protocol.PayPending, protocol.CodeInsufficientFunds)
}

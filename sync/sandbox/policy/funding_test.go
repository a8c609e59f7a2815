package policy

import (
	"testing"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

const (
	acct   = protocol.SourceAccount
	bank   = protocol.SourceBank
	credit = protocol.SourceCredit
)

func TestResolveCoverage(t *testing.T) {
	frictionless := &Link{Relation: RelationChild, Mode: protocol.FamilyFrictionless}
	tests := []struct {
		name string
		age  int
		own  bool
		link *Link
		want Coverage
	}{
		{"an adult's own agreement", 30, true, nil, CoverOwn},
		{"own agreement wins over a family link", 30, true, frictionless, CoverOwn},
		{"a minor's own agreement does not count", 17, true, nil, CoverNone},
		{"a minor through a frictionless family link", 10, true, frictionless, CoverFamily},
		{"a spouse through a confirm-first link", 40, false, &Link{Relation: RelationSpouse, Mode: protocol.FamilyConfirmFirst}, CoverFamilyConfirm},
		{"a parent through a frictionless link", 80, false, &Link{Relation: RelationParent, Mode: protocol.FamilyFrictionless}, CoverFamily},
		{"a cousin is not family for family pay", 30, false, &Link{Relation: "cousin", Mode: protocol.FamilyFrictionless}, CoverNone},
		{"a link with an unknown mode covers nothing", 30, false, &Link{Relation: RelationSpouse, Mode: "sometimes"}, CoverNone},
		{"nobody", 30, false, nil, CoverNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ResolveCoverage(tt.age, tt.own, tt.link); got != tt.want {
				t.Fatalf("ResolveCoverage = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPay(t *testing.T) {
	cny := money.CNY
	// rich can pay anything from any source within the limits.
	rich := Payer{
		PsnNo: "P1", Insutype: "310", Age: 40,
		Sources:        []string{acct, bank, credit},
		AccountBalance: cny(2000), BankBalance: cny(5000), CreditAvailable: cny(5000),
	}
	with := func(mutate func(p *Payer)) Payer {
		p := rich
		p.Sources = append([]string(nil), rich.Sources...)
		mutate(&p)
		return p
	}
	paid := func(src string, amount money.Fen) Payment {
		p := Payment{Status: protocol.PayPaid, Source: src, PayerPsnNo: "P1"}
		if src == acct {
			p.AcctPay = amount
		} else {
			p.CashPay = amount
		}
		return p
	}
	pending := func(reason string, amount money.Fen) Payment {
		return Payment{Status: protocol.PayPending, Reason: reason, PayerPsnNo: "P1", CashPay: amount}
	}
	tests := []struct {
		name     string
		selfPay  money.Fen
		acctUsed bool
		cov      Coverage
		payer    Payer
		want     Payment
	}{
		{"nothing to pay is paid with nothing debited", 0, true, CoverNone, rich,
			Payment{Status: protocol.PayPaid}},
		{"account first pays from the account", cny(100), true, CoverOwn, rich, paid(acct, cny(100))},
		{"bank first when the payer puts it first", cny(100), true, CoverOwn,
			with(func(p *Payer) { p.Sources = []string{bank, acct} }), paid(bank, cny(100))},
		{"the account is skipped when the bill may not use it", cny(100), false, CoverOwn, rich, paid(bank, cny(100))},
		{"residents have no account to pay from", cny(100), true, CoverOwn,
			with(func(p *Payer) { p.Insutype = "390" }), paid(bank, cny(100))},
		{"an account exactly equal to the amount pays", cny(100), true, CoverOwn,
			with(func(p *Payer) { p.AccountBalance = cny(100) }), paid(acct, cny(100))},
		{"an account one fen short falls back whole to the next source", cny(100), true, CoverOwn,
			with(func(p *Payer) { p.AccountBalance = cny(100) - 1; p.Sources = []string{acct, credit} }), paid(credit, cny(100))},
		{"a short bank card falls back whole to credit", cny(100), true, CoverOwn,
			with(func(p *Payer) { p.Sources = []string{bank, credit}; p.BankBalance = cny(50) }), paid(credit, cny(100))},
		{"nobody covering all of it leaves it pending, never split", cny(100), true, CoverOwn,
			with(func(p *Payer) { p.AccountBalance, p.BankBalance, p.CreditAvailable = cny(60), cny(60), cny(60) }),
			pending(protocol.CodeInsufficientFunds, cny(100))},
		{"a payer with no sources is insufficient", cny(1), true, CoverOwn,
			with(func(p *Payer) { p.Sources = nil }), pending(protocol.CodeInsufficientFunds, cny(1))},
		{"credit at 17 is refused", cny(100), true, CoverOwn,
			with(func(p *Payer) { p.Age = 17; p.Sources = []string{credit} }), pending(protocol.CodeInsufficientFunds, cny(100))},
		{"credit at 18 is allowed", cny(100), true, CoverOwn,
			with(func(p *Payer) { p.Age = 18; p.Sources = []string{credit} }), paid(credit, cny(100))},
		{"credit at 65 is allowed", cny(100), true, CoverOwn,
			with(func(p *Payer) { p.Age = 65; p.Sources = []string{credit} }), paid(credit, cny(100))},
		{"credit at 66 is refused", cny(100), true, CoverOwn,
			with(func(p *Payer) { p.Age = 66; p.Sources = []string{credit} }), pending(protocol.CodeInsufficientFunds, cny(100))},
		{"exactly the 300 per-transaction limit pays", cny(300), true, CoverOwn, rich, paid(acct, cny(300))},
		{"one fen over the per-transaction limit is pending", cny(300) + 1, true, CoverOwn, rich,
			pending(protocol.CodeLimitPerTxn, cny(300)+1)},
		{"the payer's own lower per-transaction limit applies", cny(60), true, CoverOwn,
			with(func(p *Payer) { p.OwnLimitPerTxn = cny(50) }), pending(protocol.CodeLimitPerTxn, cny(60))},
		{"an own limit above the platform's does not raise it", cny(400), true, CoverOwn,
			with(func(p *Payer) { p.OwnLimitPerTxn = cny(500) }), pending(protocol.CodeLimitPerTxn, cny(400))},
		{"the day's earlier debits count toward the daily limit", cny(200), true, CoverOwn,
			with(func(p *Payer) { p.UsedToday = cny(900) }), pending(protocol.CodeLimitDaily, cny(200))},
		{"reaching the daily limit exactly pays", cny(100), true, CoverOwn,
			with(func(p *Payer) { p.UsedToday = cny(900) }), paid(acct, cny(100))},
		{"the payer's own lower daily limit applies", cny(100), true, CoverOwn,
			with(func(p *Payer) { p.OwnLimitDaily = cny(150); p.UsedToday = cny(100) }), pending(protocol.CodeLimitDaily, cny(100))},
		{"limits are checked before funds", cny(400), true, CoverOwn,
			with(func(p *Payer) { p.Sources = nil }), pending(protocol.CodeLimitPerTxn, cny(400))},
		{"frictionless family pay debits the signer", cny(100), true, CoverFamily, rich, paid(acct, cny(100))},
		{"confirm-first family pay debits nothing", cny(100), true, CoverFamilyConfirm, rich,
			Payment{Status: protocol.PayConfirmRequired, Reason: protocol.CodeConfirmRequired, PayerPsnNo: "P1", CashPay: cny(100)}},
		{"no agreement leaves it pending with no payer", cny(100), true, CoverNone, Payer{},
			Payment{Status: protocol.PayPending, Reason: protocol.CodeNoAgreement, CashPay: cny(100)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rules.Pay(tt.selfPay, tt.acctUsed, tt.cov, tt.payer)
			if got != tt.want {
				t.Fatalf("Pay = %+v\nwant  %+v", got, tt.want)
			}
			if got.AcctPay+got.CashPay != tt.selfPay {
				t.Fatalf("acct_pay %s + psn_cash_pay %s != self-pay %s", got.AcctPay, got.CashPay, tt.selfPay)
			}
			if got.Debited() != (got.Status == protocol.PayPaid && tt.selfPay > 0) {
				t.Fatalf("Debited = %v for %+v", got.Debited(), got)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	cny := money.CNY
	for _, tt := range []struct {
		name               string
		ownTxn, ownDay     money.Fen
		wantTxn, wantDaily money.Fen
	}{
		{"platform limits by default", 0, 0, cny(300), cny(1000)},
		{"own lower limits", cny(50), cny(150), cny(50), cny(150)},
		{"own higher limits do not count", cny(500), cny(5000), cny(300), cny(1000)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			txn, day := rules.Limits(Payer{OwnLimitPerTxn: tt.ownTxn, OwnLimitDaily: tt.ownDay})
			if txn != tt.wantTxn || day != tt.wantDaily {
				t.Fatalf("Limits = %s, %s, want %s, %s", txn, day, tt.wantTxn, tt.wantDaily)
			}
		})
	}
}

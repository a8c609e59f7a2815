package paytest

import (
	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/money"
)

var specs = []specCase{
	{"a payment within the limits is paid once however often it is sent", func(s *spec) {
		a := s.agreement("bank-card")
		card := s.source(a, agent.SourceBankCard)
		before := s.Balance(card.Token)
		o := s.order(a, card, money.CNY(100))
		first := s.pay(o, agent.PaySucceeded, "")
		again := s.pay(o, agent.PaySucceeded, "")
		if again.QueryID != first.QueryID {
			s.Fatalf("the same order answered %s, then %s", first.QueryID, again.QueryID)
		}
		s.wantBalance(card.Token, before-money.CNY(100))
		if n := s.Booked(o.OrderID); n != 1 {
			s.Fatalf("booked %d times", n)
		}
		q, err := s.Channel.Query(s.ctx(), o.OrderRef)
		if err != nil || q.Status != agent.PaySucceeded || q.QueryID != first.QueryID || q.Amount != o.Amount {
			s.Fatalf("query %+v %v", q, err)
		}
	}},
	{"an order id used again for other content is a conflict, not a second payment", func(s *spec) {
		a := s.agreement("bank-card")
		card := s.source(a, agent.SourceBankCard)
		before := s.Balance(card.Token)
		o := s.order(a, card, money.CNY(100))
		s.pay(o, agent.PaySucceeded, "")
		other := o
		other.Amount++
		_, err := s.Channel.Pay(s.ctx(), other)
		s.wantErr("the same order id with another amount", err, agent.ErrIdempotencyConflict)
		s.wantBalance(card.Token, before-money.CNY(100))
	}},
	{"over the per-payment limit is refused unless the patient confirms", func(s *spec) {
		a := s.agreement("bank-card")
		if a.PerPayment != money.CNY(300) || a.Daily != money.CNY(1000) {
			s.Fatalf("rollout limits %s/%s", a.PerPayment, a.Daily)
		}
		card := s.source(a, agent.SourceBankCard)
		before := s.Balance(card.Token)
		s.pay(s.order(a, card, money.CNY(300)+1), agent.PayRefused, agent.ReasonLimitPerPayment)
		o := s.order(a, card, money.CNY(300)+1)
		o.Confirmed = true
		s.pay(o, agent.PaySucceeded, "")
		s.pay(s.order(a, card, money.CNY(300)), agent.PaySucceeded, "") // the limit itself is password-free
		s.wantBalance(card.Token, before-money.CNY(600)-1)
	}},
	{"a patient's own lower limit refuses what the rollout's would pay", func(s *spec) {
		a := s.agreement("low-limit")
		if a.PerPayment != money.CNY(50) {
			s.Fatalf("own limit %s", a.PerPayment)
		}
		card := s.source(a, agent.SourceBankCard)
		s.pay(s.order(a, card, money.CNY(60)), agent.PayRefused, agent.ReasonLimitPerPayment)
		s.pay(s.order(a, card, money.CNY(50)), agent.PaySucceeded, "")
	}},
	{"the daily limit counts password-free payments of the Beijing day", func(s *spec) {
		a := s.agreement("daily-limit")
		acct := s.source(a, agent.SourceBankCard)
		if a.Daily != money.CNY(150) {
			s.Fatalf("own daily limit %s", a.Daily)
		}
		s.pay(s.order(a, acct, money.CNY(100)), agent.PaySucceeded, "")
		s.pay(s.order(a, acct, money.CNY(100)), agent.PayRefused, agent.ReasonLimitDaily)
		s.pay(s.order(a, acct, money.CNY(50)), agent.PaySucceeded, "")
		confirmed := s.order(a, acct, money.CNY(100))
		confirmed.Confirmed = true // not password-free: no limit, and not counted
		s.pay(confirmed, agent.PaySucceeded, "")
		s.nextDay()
		s.pay(s.order(a, acct, money.CNY(100)), agent.PaySucceeded, "")

		b := s.agreement("bank-card")
		card := s.source(b, agent.SourceBankCard)
		for range 3 {
			s.pay(s.order(b, card, money.CNY(300)), agent.PaySucceeded, "")
		}
		s.pay(s.order(b, card, money.CNY(200)), agent.PayRefused, agent.ReasonLimitDaily)
		s.pay(s.order(b, card, money.CNY(100)), agent.PaySucceeded, "")
	}},
	{"a social-security card's financial account pays like a bank card, and is signed like one", func(s *spec) {
		a := s.agreement("acct-first")
		acct := s.source(a, agent.SourceCardAccount)
		before := s.Balance(acct.Token)
		s.pay(s.order(a, acct, money.CNY(70)), agent.PaySucceeded, "")
		s.wantBalance(acct.Token, before-money.CNY(70))
		// bank-card's card has a financial function (account
		// 6217000000198800025): read at the desk, signed by the cashier.
		signed, err := s.Channel.Sign(s.ctx(), agent.SignRequest{Patient: s.Patient("bank-card"),
			Operator: agent.Operator{ID: "C01", Type: "1"},
			Source:   agent.PaySource{Kind: agent.SourceCardAccount, Token: "6217000000198800025"}})
		if err != nil {
			s.Fatal(err)
		}
		if len(signed.Sources) != 2 || signed.Sources[0].Kind != agent.SourceBankCard || signed.Sources[1].Kind != agent.SourceCardAccount ||
			signed.Sources[1].Masked != "6217 **** 0025" {
			s.Fatalf("signed %+v", signed.Sources)
		}
		s.pay(s.order(signed, signed.Sources[1], money.CNY(20)), agent.PaySucceeded, "")
	}},
	{"a source that cannot cover the whole amount pays none of it", func(s *spec) {
		a := s.agreement("insufficient")
		card := s.source(a, agent.SourceBankCard)
		before := s.Balance(card.Token)
		o := s.order(a, card, money.CNY(30))
		s.pay(o, agent.PayRefused, agent.ReasonInsufficient)
		s.wantBalance(card.Token, before)
		if s.Booked(o.OrderID) != 0 {
			s.Fatal("a refused payment was booked")
		}
	}},
	{"a patient without an agreement has none to look up and none to pay from", func(s *spec) {
		_, err := s.Channel.Agreement(s.ctx(), s.Patient("no-agreement"))
		s.wantErr("agreement of no-agreement", err, agent.ErrNoAgreement)
		o := s.order(agent.Agreement{ID: "AG0000000000000000"}, agent.PaySource{Kind: agent.SourceBankCard, Token: "6235000000000000000"}, money.CNY(10))
		s.pay(o, agent.PayRefused, agent.ReasonNoAgreement)
		q := s.Patient("bank-card")
		q.Name = "张三"
		_, err = s.Channel.Agreement(s.ctx(), q)
		s.wantErr("agreement with another's name", err, agent.ErrInvalid)
	}},
	{"account first is the patient's setting", func(s *spec) {
		if !s.agreement("acct-first").AccountFirst || s.agreement("bank-card").AccountFirst {
			s.Fatal("account_first of acct-first or bank-card")
		}
		a := s.agreement("credit-fallback") // account first, then the whole part from the credit line
		if !a.AccountFirst || len(a.Sources) != 1 || a.Sources[0].Kind != agent.SourceCreditLine {
			s.Fatalf("credit-fallback %+v", a)
		}
	}},
	{"a child is paid for by the signer frictionlessly", func(s *spec) {
		a := s.agreement("family-child")
		if a.Family == nil || a.Family.Relation != "child" || a.Family.ConfirmFirst || a.Family.Signer != "赵*" {
			s.Fatalf("family %+v", a.Family)
		}
		signer := s.agreement("family-signer")
		card := s.source(a, agent.SourceBankCard)
		if card.Token != s.source(signer, agent.SourceBankCard).Token {
			s.Fatal("the child's sources are not the signer's")
		}
		before := s.Balance(card.Token)
		s.pay(s.order(a, card, money.CNY(80)), agent.PaySucceeded, "")
		s.wantBalance(card.Token, before-money.CNY(80))
	}},
	{"a confirm-first family bill is paid only once confirmed", func(s *spec) {
		a := s.agreement("family-confirm")
		if a.Family == nil || a.Family.Relation != "spouse" || !a.Family.ConfirmFirst {
			s.Fatalf("family %+v", a.Family)
		}
		card := s.source(a, agent.SourceBankCard)
		s.pay(s.order(a, card, money.CNY(80)), agent.PayRefused, agent.ReasonConfirmRequired)
		o := s.order(a, card, money.CNY(80))
		o.Confirmed = true
		s.pay(o, agent.PaySucceeded, "")
	}},
	{"a credit line pays only for a signer aged 18 to 65", func(s *spec) {
		old := s.agreement("elderly-no-credit") // seventy
		s.pay(s.order(old, s.source(old, agent.SourceCreditLine), money.CNY(40)), agent.PayRefused, agent.ReasonSourceInvalid)
		s.pay(s.order(old, s.source(old, agent.SourceBankCard), money.CNY(40)), agent.PayRefused, agent.ReasonInsufficient)

		a := s.agreement("credit-fallback") // thirty-six
		line := s.source(a, agent.SourceCreditLine)
		s.pay(s.order(a, line, money.CNY(200)), agent.PaySucceeded, "")
		if after := s.source(s.agreement("credit-fallback"), agent.SourceCreditLine); after.Available != line.Available-money.CNY(200) {
			s.Fatalf("available %s after 200 from %s", after.Available, line.Available)
		}
	}},
	{"an unknown outcome is resolved by a query", func(s *spec) {
		a := s.agreement("bank-card")
		card := s.source(a, agent.SourceBankCard)
		s.AnswerUnknownNext(1)
		o := s.order(a, card, money.CNY(120))
		s.pay(o, agent.PayUnknown, "")
		q, err := s.Channel.Query(s.ctx(), o.OrderRef)
		if err != nil || q.Status != agent.PaySucceeded || q.Amount != o.Amount || q.QueryID == "" {
			s.Fatalf("query %+v %v", q, err)
		}
		if s.Booked(o.OrderID) != 1 {
			s.Fatal("not booked once")
		}
		never := s.order(a, card, money.CNY(1))
		q, err = s.Channel.Query(s.ctx(), never.OrderRef)
		if err != nil || q.Status != agent.PayRefused || q.Reason != agent.ReasonNotFound {
			s.Fatalf("query of an order never sent: %+v %v", q, err)
		}
	}},
	{"a lost answer leaves the order answered or in doubt, and booked once", func(s *spec) {
		a := s.agreement("bank-card")
		card := s.source(a, agent.SourceBankCard)
		before := s.Balance(card.Token)
		s.LoseNext(1)
		o := s.order(a, card, money.CNY(90))
		out, err := s.Channel.Pay(s.ctx(), o)
		switch {
		case err == nil && out.Status == agent.PaySucceeded: // a resend got the first answer
		case err != nil:
			s.wantErr("pay with its answer lost", err, agent.ErrInDoubt)
		default:
			s.Fatalf("pay with its answer lost: %+v", out)
		}
		q, err := s.Channel.Query(s.ctx(), o.OrderRef)
		if err != nil || q.Status != agent.PaySucceeded {
			s.Fatalf("query %+v %v", q, err)
		}
		again := s.pay(o, agent.PaySucceeded, "")
		if again.QueryID != q.QueryID {
			s.Fatal("the resend and the query disagree")
		}
		s.wantBalance(card.Token, before-money.CNY(90))
	}},
	{"a cancel undoes a whole payment on its own day only", func(s *spec) {
		a := s.agreement("bank-card")
		card := s.source(a, agent.SourceBankCard)
		before := s.Balance(card.Token)
		o := s.order(a, card, money.CNY(100))
		paid := s.pay(o, agent.PaySucceeded, "")
		s.reverse(true, s.reversal(o, paid, money.CNY(50)), agent.PayRefused) // not in full
		c := s.reversal(o, paid, money.CNY(100))
		first := s.reverse(true, c, agent.PaySucceeded)
		if again := s.reverse(true, c, agent.PaySucceeded); again.QueryID != first.QueryID {
			s.Fatal("the same cancel answered twice differently")
		}
		s.wantBalance(card.Token, before)
		s.reverse(true, s.reversal(o, paid, money.CNY(100)), agent.PayRefused) // cancelled already
		s.reverse(false, s.reversal(o, paid, money.CNY(10)), agent.PayRefused) // nothing left to refund
		o2 := s.order(a, card, money.CNY(100))
		paid2 := s.pay(o2, agent.PaySucceeded, "")
		s.nextDay()
		s.reverse(true, s.reversal(o2, paid2, money.CNY(100)), agent.PayRefused) // its day is over
		s.reverse(false, s.reversal(o2, paid2, money.CNY(100)), agent.PaySucceeded)
		s.wantBalance(card.Token, before)
	}},
	{"refunds return parts of a payment up to its whole and not beyond", func(s *spec) {
		a := s.agreement("acct-first")
		card := s.source(a, agent.SourceBankCard)
		before := s.Balance(card.Token)
		o := s.order(a, card, money.CNY(100))
		paid := s.pay(o, agent.PaySucceeded, "")
		s.reverse(false, s.reversal(o, paid, money.CNY(40)), agent.PaySucceeded)
		s.nextDay()
		s.reverse(false, s.reversal(o, paid, money.CNY(60)+1), agent.PayRefused)
		s.reverse(false, s.reversal(o, paid, money.CNY(60)), agent.PaySucceeded)
		s.reverse(false, s.reversal(o, paid, 1), agent.PayRefused)
		s.wantBalance(card.Token, before)
	}},
	{"the statement lists every booking of its day and nothing else", func(s *spec) {
		a := s.agreement("bank-card")
		card := s.source(a, agent.SourceBankCard)
		oa, ob := s.order(a, card, money.CNY(100)), s.order(a, card, money.CNY(50))
		pa := s.pay(oa, agent.PaySucceeded, "")
		s.later()
		pb := s.pay(ob, agent.PaySucceeded, "")
		s.later()
		s.pay(s.order(a, card, money.CNY(400)), agent.PayRefused, agent.ReasonLimitPerPayment)
		s.later()
		cb := s.reversal(ob, pb, money.CNY(50))
		cbOut := s.reverse(true, cb, agent.PaySucceeded)
		s.later()
		ra := s.reversal(oa, pa, money.CNY(30))
		raOut := s.reverse(false, ra, agent.PaySucceeded)
		want := map[string]agent.StatementEntry{
			pa.QueryID:    {Kind: agent.EntryPayment, OrderID: oa.OrderID, QueryID: pa.QueryID, TxnTime: oa.TxnTime, Amount: money.CNY(100)},
			pb.QueryID:    {Kind: agent.EntryPayment, OrderID: ob.OrderID, QueryID: pb.QueryID, TxnTime: ob.TxnTime, Amount: money.CNY(50)},
			cbOut.QueryID: {Kind: agent.EntryCancel, OrderID: cb.OrderID, QueryID: cbOut.QueryID, TxnTime: cb.TxnTime, Amount: money.CNY(50)},
			raOut.QueryID: {Kind: agent.EntryRefund, OrderID: ra.OrderID, QueryID: raOut.QueryID, TxnTime: ra.TxnTime, Amount: money.CNY(30)},
		}
		got, err := s.Channel.Statement(s.ctx(), s.Clock.Now())
		if err != nil {
			s.Fatal(err)
		}
		if len(got) != len(want) {
			s.Fatalf("%d entries, want %d: %+v", len(got), len(want), got)
		}
		for _, e := range got {
			w, ok := want[e.QueryID]
			if !ok || e.Kind != w.Kind || e.OrderID != w.OrderID || e.Amount != w.Amount || !e.TxnTime.Equal(w.TxnTime) {
				s.Errorf("entry %+v, want %+v", e, w)
			}
		}
		day, err := s.Channel.Statement(s.ctx(), Start.AddDate(0, 0, -1))
		if err != nil || len(day) != 0 {
			s.Fatalf("the day before: %+v %v", day, err)
		}
	}},
	{"a patient signs, lowers a limit, cancels, and then pays nothing", func(s *spec) {
		kiosk := agent.Operator{ID: "KIOSK01", Type: "2"}
		who := s.Patient("no-agreement")
		req := agent.SignRequest{Patient: who, Operator: kiosk,
			Source: agent.PaySource{Kind: agent.SourceBankCard, Token: "6222021234567890123", Bank: "中国工商银行"}}
		signed, err := s.Channel.Sign(s.ctx(), req)
		if err != nil {
			s.Fatal(err)
		}
		if again, err := s.Channel.Sign(s.ctx(), req); err != nil || len(again.Sources) != 1 {
			s.Fatalf("the same card signed again: %+v %v", again, err)
		}
		a := s.agreement("no-agreement")
		card := s.source(a, agent.SourceBankCard)
		if a.ID != signed.ID || card.Token == "" || card.Token == req.Source.Token || a.PerPayment != money.CNY(300) {
			s.Fatalf("signed %+v", a)
		}
		s.pay(s.order(a, card, money.CNY(100)), agent.PaySucceeded, "")
		ref := agent.AgreementRef{AgreementID: a.ID, Operator: kiosk}
		lowered, err := s.Channel.SetLimits(s.ctx(), agent.LimitsRequest{AgreementRef: ref, PerPayment: money.CNY(50)})
		if err != nil || lowered.PerPayment != money.CNY(50) || lowered.Daily != money.CNY(1000) {
			s.Fatalf("set limits: %+v %v", lowered, err)
		}
		s.pay(s.order(a, card, money.CNY(60)), agent.PayRefused, agent.ReasonLimitPerPayment)
		_, err = s.Channel.SetLimits(s.ctx(), agent.LimitsRequest{AgreementRef: ref, PerPayment: money.CNY(400)})
		s.wantErr("a limit above the rollout's", err, agent.ErrInvalid)
		if err := s.Channel.CancelAgreement(s.ctx(), ref); err != nil {
			s.Fatal(err)
		}
		_, err = s.Channel.Agreement(s.ctx(), who)
		s.wantErr("agreement after its cancel", err, agent.ErrNoAgreement)
		s.pay(s.order(a, card, money.CNY(10)), agent.PayRefused, agent.ReasonNoAgreement)
		s.wantErr("cancel again", s.Channel.CancelAgreement(s.ctx(), ref), agent.ErrNotFound)
	}},
	{"minors, credit lines past 65 and another's name cannot be signed", func(s *spec) {
		card := agent.PaySource{Kind: agent.SourceBankCard, Token: "6222021234567890123"}
		_, err := s.Channel.Sign(s.ctx(), agent.SignRequest{Patient: s.Patient("family-child"), Source: card})
		s.wantErr("a ten-year-old signs", err, agent.ErrInvalid)
		line := agent.PaySource{Kind: agent.SourceCreditLine, Token: "CL20260310001"}
		_, err = s.Channel.Sign(s.ctx(), agent.SignRequest{Patient: s.Patient("elderly-no-credit"), Source: line})
		s.wantErr("a seventy-year-old signs a credit line", err, agent.ErrInvalid)
		other := s.Patient("no-agreement")
		other.Name = "张三"
		_, err = s.Channel.Sign(s.ctx(), agent.SignRequest{Patient: other, Source: card})
		s.wantErr("signing under another's name", err, agent.ErrInvalid)
		ok, err := s.Channel.Sign(s.ctx(), agent.SignRequest{Patient: s.Patient("no-agreement"), Source: line})
		if err != nil || len(ok.Sources) != 1 || ok.Sources[0].Kind != agent.SourceCreditLine || ok.Sources[0].Available <= 0 {
			s.Fatalf("a thirty-three-year-old signs a credit line: %+v %v", ok, err)
		}
	}},
	{"a family link's limits are the signer's to set", func(s *spec) {
		link := s.agreement("family-child")
		_, err := s.Channel.SetLimits(s.ctx(), agent.LimitsRequest{AgreementRef: agent.AgreementRef{AgreementID: link.ID}, PerPayment: money.CNY(10)})
		s.wantErr("limits through a family link", err, agent.ErrInvalid)
	}},
}

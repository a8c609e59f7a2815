// Package demo is a scripted day at the hospital: the HIS and the window
// staff settling the bills of the sandbox's patients through the agent's
// local API, each bill chosen to show one rule, with what the day must
// show written next to it. `medterm-sandbox demo` plays it against real
// processes; the integration tests play it against the same stack in one
// process; both check every outcome and every receipt.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// Outcome is what a scenario must end in.
type Outcome struct {
	// Refused, when set, is a word the agent's refusal must contain: the
	// bill is not accepted at all (an expired card).
	Refused string
	State   agent.State
	// Payment is the patient's part: none (the funds and the account paid
	// it all), paid, pending, confirm_required ("" for any).
	Payment   string
	Source    string // the payment source's kind, when paid ("" for any)
	Reason    string // why pending, or the failure's code
	FamilyPay bool
}

// Scenario is one bill of the day.
type Scenario struct {
	Name    string
	Persona string // personas key
	Where   string // who submits it: "doctor's desk", "window"
	// Card: the patient inserts the social-security card into the desk's
	// reader and the HIS settles "for the card in this desk's reader".
	Card bool
	// QR: the patient shows the insurance QR code to the kiosk's scanner
	// and the bill is settled "for the code just scanned"; ReplayOf names
	// an earlier scenario whose code is shown again (a screenshot).
	QR       bool
	ReplayOf string
	Bill     agent.Bill
	Want     Outcome
}

// Items of the platform's catalogue (the sandbox's), priced in fen; the
// class the HIS believes is a hint, the catalogue's is the one that
// counts.
var (
	amoxicillin = item("XJ01CRA076E001010102567", "阿莫西林克拉维酸钾片", agent.ClassA, 2, 1250)
	bloodTest   = item("002502010010000", "血常规检查", agent.ClassA, 1, 2500)
	ctScan      = item("002701000010000", "胸部X线摄影", agent.ClassB, 1, 18000)
	supplement  = item("ZB01AAX0156010103376", "某品牌保健冲剂", agent.ClassC, 1, 4500)
	consult     = item("001102000010000", "门诊诊查费", agent.ClassA, 1, 5000)
)

// cosmetic is a fully self-paid (class C) item at a price: no fund share,
// so the whole amount is the patient's, which the personal account pays
// first as far as it holds. Only what it leaves reaches the payment
// channel, where the password-free limits and family links apply: the
// scenarios about those rules need a part larger than the patient's
// account.
func cosmetic(price money.Fen) agent.FeeItem {
	return item("003108000010000", "美容整形咨询", agent.ClassC, 1, price)
}

func item(code, name, class string, qty int64, price money.Fen) agent.FeeItem {
	return agent.FeeItem{Code: code, HospCode: "H-" + code[:6], Name: name, Class: class,
		Quantity: money.QuantityOf(qty), UnitPriceFen: price, Amount: money.Fen(qty) * price}
}

func bill(visit string, items ...agent.FeeItem) agent.Bill {
	return agent.Bill{VisitNo: visit, DeptCode: "A03", DeptName: "内科", DoctorID: "D017", DoctorName: "梁医生", Items: items}
}

// Kiosk is the self-service machine: patients show their phones' codes.
func Kiosk() []Scenario {
	return []Scenario{
		{Name: "kiosk: signed code (Ed25519) verified offline, settled online", Persona: "credit-fallback", Where: "kiosk", QR: true,
			Bill: bill("MZ0301", consult), Want: Outcome{State: agent.StateSettled}},
		{Name: "kiosk: signed code (SM2 with SM3)", Persona: "family-signer", Where: "kiosk", QR: true,
			Bill: bill("MZ0302", bloodTest, amoxicillin), Want: Outcome{State: agent.StateSettled}},
		{Name: "kiosk: a national-style opaque code, checked by the platform", Persona: "opaque-only", Where: "kiosk", QR: true,
			Bill: bill("MZ0303", consult), Want: Outcome{State: agent.StateSettled}},
		{Name: "kiosk: a screenshot of a code already used is refused", Persona: "credit-fallback", Where: "kiosk", QR: true,
			ReplayOf: "kiosk: signed code (Ed25519) verified offline, settled online",
			Bill:     bill("MZ0304", consult), Want: Outcome{Refused: "REPLAYED"}},
		{Name: "kiosk: a revoked credential is refused", Persona: "revoked-phone", Where: "kiosk", QR: true,
			Bill: bill("MZ0305", consult), Want: Outcome{Refused: "REVOKED"}},
	}
}

// Outage is the afternoon the network went down: bills at the desk are
// deferred within the hospital's limits, and one is over them.
func Outage() []Scenario {
	return []Scenario{
		{Name: "platform unreachable: the bill is deferred, with a provisional receipt", Persona: "resident-390", Where: "doctor's desk", Card: true,
			Bill: bill("MZ0201", consult, bloodTest), Want: Outcome{State: agent.StateDeferred}},
		{Name: "a second deferred bill", Persona: "deductible-met", Where: "doctor's desk", Card: true,
			Bill: bill("MZ0202", amoxicillin, ctScan), Want: Outcome{State: agent.StateDeferred}},
		{Name: "kiosk during the outage: a signed code verified offline, deferred", Persona: "acct-first", Where: "kiosk", QR: true,
			Bill: bill("MZ0204", consult, bloodTest), Want: Outcome{State: agent.StateDeferred}},
		{Name: "over the 500 CNY offline limit per bill: refused, naming the limit", Persona: "credit-fallback", Where: "doctor's desk", Card: true,
			Bill: bill("MZ0203", ctScan, ctScan, ctScan), Want: Outcome{State: agent.StateFailed, Reason: agent.FailOfflineLimit}},
	}
}

// at is a scenario settled without a card.
func at(name, persona, where string, b agent.Bill, want Outcome) Scenario {
	return Scenario{Name: name, Persona: persona, Where: where, Bill: b, Want: want}
}

// Desk is the morning at the doctor's desk: patients insert their cards.
func Desk() []Scenario {
	return []Scenario{
		{Name: "2.0 card at the doctor's desk", Persona: "bank-card", Where: "doctor's desk", Card: true, Bill: bill("MZ0101", consult, amoxicillin),
			Want: Outcome{State: agent.StateSettled, Payment: agent.PayPaid, Source: agent.SourceBankCard}},
		{Name: "3.0 card, authenticated through the PSAM", Persona: "acct-first", Where: "doctor's desk", Card: true, Bill: bill("MZ0102", bloodTest, ctScan),
			Want: Outcome{State: agent.StateSettled}},
		{Name: "expired card refused", Persona: "card-expired", Where: "doctor's desk", Card: true, Bill: bill("MZ0103", consult),
			Want: Outcome{Refused: "expired"}},
	}
}

// Day is the scripted day at the window and the doctor's desk.
func Day() []Scenario {
	return []Scenario{
		at("frictionless: the personal account pays the patient's part", "acct-first", "doctor's desk", bill("MZ0001", amoxicillin, bloodTest),
			Outcome{State: agent.StateSettled, Payment: agent.PayNone}),
		at("frictionless from a debit card", "bank-card", "doctor's desk", bill("MZ0002", consult, bloodTest),
			Outcome{State: agent.StateSettled, Payment: agent.PayPaid, Source: agent.SourceBankCard}),
		at("account too small: whole amount to the credit line", "credit-fallback", "doctor's desk", bill("MZ0003", consult, ctScan),
			Outcome{State: agent.StateSettled, Payment: agent.PayPaid, Source: agent.SourceCreditLine}),
		// Her 3,000 CNY account pays first; the 80 CNY it leaves is over her
		// own 50 CNY password-free limit.
		at("over the patient's own limit per payment: awaits confirmation", "low-limit", "doctor's desk", bill("MZ0004", cosmetic(308000)),
			Outcome{State: agent.StateSettled, Payment: agent.PayConfirmRequired, Reason: agent.ReasonLimitPerPayment}),
		// His 3,000 CNY account pays first and the card the 100 CNY left,
		// within his own 150 CNY a day; the next 100 CNY, the account
		// spent, would make 200.
		at("first bill of the day within the daily limit", "daily-limit", "doctor's desk", bill("MZ0005", cosmetic(310000)),
			Outcome{State: agent.StateSettled, Payment: agent.PayPaid, Source: agent.SourceBankCard}),
		at("second bill: the daily limit is reached", "daily-limit", "doctor's desk", bill("MZ0006", consult, consult),
			Outcome{State: agent.StateSettled, Payment: agent.PayConfirmRequired, Reason: agent.ReasonLimitDaily}),
		// The child (resident insurance) has no account: the father's
		// card pays, with no confirmation.
		at("a child's bill charged to the signing parent", "family-child", "doctor's desk", bill("MZ0007", consult),
			Outcome{State: agent.StateSettled, Payment: agent.PayPaid, Source: agent.SourceBankCard, FamilyPay: true}),
		// Her own 800 CNY account would leave part of the 850 CNY: the
		// whole part goes to her husband's credit line instead (never a
		// half payment), once she confirms.
		at("confirm-first family link: waits for confirmation", "family-confirm", "doctor's desk", bill("MZ0008", consult, cosmetic(80000)),
			Outcome{State: agent.StateSettled, Payment: agent.PayConfirmRequired, Reason: agent.ReasonConfirmRequired, FamilyPay: true}),
		// The fund and his 600 CNY account settle; the 100 CNY left has
		// no agreement to be taken under.
		at("no agreement: fund settled, self-pay pending", "no-agreement", "window", bill("MZ0009", consult, cosmetic(65000)),
			Outcome{State: agent.StateSettled, Payment: agent.PayPending, Reason: agent.ReasonNoAgreement}),
		at("resident insurance, no personal account", "resident-390", "doctor's desk", bill("MZ0010", consult, ctScan),
			Outcome{State: agent.StateSettled, Payment: agent.PayPaid, Source: agent.SourceBankCard}),
		at("deductible already met: the fund pays from the first fen", "deductible-met", "doctor's desk", bill("MZ0011", consult, bloodTest),
			Outcome{State: agent.StateSettled}),
		at("near the yearly cap", "near-cap", "doctor's desk", bill("MZ0012", ctScan, ctScan),
			Outcome{State: agent.StateSettled}),
		at("nothing covers the bill: pending, never half-paid", "insufficient", "window", bill("MZ0013", consult, ctScan),
			Outcome{State: agent.StateSettled, Payment: agent.PayPending, Reason: agent.ReasonInsufficient}),
		// Her 5 CNY account would leave most of the part: the whole part
		// goes to the credit line, which is closed to her age; the card
		// cannot take it whole either.
		at("seventy: no credit line, card short", "elderly-no-credit", "window", bill("MZ0014", consult, ctScan),
			Outcome{State: agent.StateSettled, Payment: agent.PayPending, Reason: agent.ReasonInsufficient}),
		at("insurance suspended: declined", "not-insured", "window", bill("MZ0015", consult),
			Outcome{State: agent.StateDeclined, Reason: agent.FailDeclined}),
	}
}

// RefundOf is the scenario whose settlement the day refunds at its end.
const RefundOf = "frictionless from a debit card"

// Env is what the day is played against.
type Env struct {
	API      *api.Client
	Personas *personas.Dataset
	// KeyPrefix makes idempotency keys unique per run.
	KeyPrefix string
	// Settle, if set, submits "window" scenarios (the demo runs the CLI
	// for them); otherwise they go through the API too.
	Settle func(ctx context.Context, key string, body api.SettleBody) (api.SettlementView, error)
	// Cards inserts and removes the patients' cards in the desk's reader;
	// nil skips the desk scenarios.
	Cards CardSlot
	// Platform takes the platform away and brings it back; with Drain and
	// Reconcile it plays the outage (which also needs Cards).
	Platform Switch
	// Drain forwards the backlog once the platform is back (the demo runs
	// `medterm sync now`).
	Drain func(ctx context.Context) error
	// Reconcile reconciles the day (the demo runs `medterm reconcile`):
	// after the outage when it is played, else at the end of the day.
	Reconcile func(ctx context.Context) (agent.Report, error)
	// Scanner shows a code to the kiosk's scanner, and Phone makes the
	// persona's phone show its next code: together they play the kiosk.
	Scanner CodeScanner
	Phone   func(ctx context.Context, persona string) (string, error)
	// ScanDedupe is the scanner's de-duplication window: a screenshot is
	// shown again only after it, or the scanner would take it for the
	// same reading.
	ScanDedupe time.Duration

	codes   map[string]string    // scenario name → the code its patient showed
	shownAt map[string]time.Time // and when
}

// CodeScanner is the kiosk's scanner as the patients use it.
type CodeScanner interface {
	Show(ctx context.Context, text string) error
}

// Switch makes the platform unreachable and reachable again.
type Switch interface {
	Down(ctx context.Context) error
	Up(ctx context.Context) error
}

// CardSlot is the desk's card reader as the patients use it.
type CardSlot interface {
	Insert(ctx context.Context, persona string) error
	Remove(ctx context.Context) error
}

// Result is one played scenario.
type Result struct {
	Scenario Scenario
	View     api.SettlementView
	Receipt  string
	Refusal  string // the agent's refusal, when the scenario expects one
	Err      error  // the outcome did not match, or a call failed
}

// Play plays the day, writing each receipt to w, and returns every result.
// It stops at the first call that fails outright; mismatched outcomes are
// recorded and the day goes on.
func Play(ctx context.Context, env Env, w io.Writer) ([]Result, error) {
	var results []Result
	env.codes, env.shownAt = map[string]string{}, map[string]time.Time{}
	day := Day()
	if env.Cards != nil {
		day = append(Desk(), day...)
	}
	if env.Scanner != nil && env.Phone != nil {
		day = append(day, Kiosk()...)
	}
	for i, sc := range day {
		r := playOne(ctx, env, i, sc)
		results = append(results, r)
		report(w, i+1, r)
		if r.Err != nil && errors.Is(r.Err, errCall) {
			return results, r.Err
		}
	}
	for i, r := range results {
		if r.Scenario.Name != RefundOf || r.Err != nil {
			continue
		}
		v, err := env.API.Refund(ctx, r.View.ID, api.RefundBody{Operator: agent.Operator{ID: "W01", Name: "Window 1", Type: agent.OpterClerk}, Reason: "patient returned the medicine"})
		rr := Result{Scenario: Scenario{Name: "refund: " + RefundOf, Persona: r.Scenario.Persona, Where: "window"}, View: v}
		switch {
		case err != nil:
			rr.Err = fmt.Errorf("%w: refund: %v", errCall, err)
		case v.State != agent.StateRefunded || v.Refund == nil || v.Refund.Split.Total != -r.View.Split.Total || !v.Refund.Split.Balanced():
			rr.Err = fmt.Errorf("refund ended %s, refund %+v", v.State, v.Refund)
		case v.Pay.Status != returnedAs(r.View.Pay.Status):
			// The insured part went back to the funds and the account by
			// the cancellation; the patient's part must go back where it
			// was taken from, and only if it was.
			rr.Err = fmt.Errorf("refund of a part %s ended with the part %s, want %s", r.View.Pay.Status, v.Pay.Status, returnedAs(r.View.Pay.Status))
		default:
			rr.Receipt, rr.Err = env.API.ReceiptText(ctx, v.ID)
		}
		results = append(results, rr)
		report(w, len(results), rr)
		_ = i
	}
	if env.Platform != nil && env.Cards != nil && env.Drain != nil && env.Reconcile != nil {
		out, err := playOutage(ctx, env, len(results), w)
		results = append(results, out...)
		if err != nil {
			return results, err
		}
	} else if env.Reconcile != nil {
		r := reconcileDay(ctx, env, len(results), w)
		results = append(results, r)
		if r.Err != nil && errors.Is(r.Err, errCall) {
			return results, r.Err
		}
	}
	return results, nil
}

// returnedAs is what a refund makes of a patient's part: given back by the
// payment channel if it took it, never said to be returned if not.
func returnedAs(status string) string {
	switch status {
	case agent.PayPaid:
		return agent.PayReturned
	case agent.PayCollected:
		return agent.PayReturnAtWindow
	case agent.PayNone:
		return agent.PayNone
	}
	return agent.PayNotTaken
}

// playOutage takes the platform away, defers bills at the desk, brings the
// platform back, drains the backlog and reconciles the day.
func playOutage(ctx context.Context, env Env, n int, w io.Writer) ([]Result, error) {
	fmt.Fprintf(w, "\n== the network goes down: the platform is unreachable\n")
	if err := env.Platform.Down(ctx); err != nil {
		return nil, fmt.Errorf("%w: take the platform away: %v", errCall, err)
	}
	var results, deferred []Result
	for i, sc := range Outage() {
		if sc.QR && (env.Scanner == nil || env.Phone == nil) {
			continue
		}
		r := playOne(ctx, env, n+i, sc)
		results = append(results, r)
		report(w, n+len(results), r)
		if r.Err != nil && errors.Is(r.Err, errCall) {
			return results, r.Err
		}
		if r.View.State == agent.StateDeferred {
			deferred = append(deferred, r)
		}
	}
	fmt.Fprintf(w, "\n== the network is back: forwarding the backlog (medterm sync now)\n")
	if err := env.Platform.Up(ctx); err != nil {
		return results, fmt.Errorf("%w: bring the platform back: %v", errCall, err)
	}
	if err := env.Drain(ctx); err != nil {
		return results, fmt.Errorf("%w: drain: %v", errCall, err)
	}
	for _, d := range deferred {
		v, err := env.API.Get(ctx, d.View.ID, false)
		r := Result{Scenario: Scenario{Name: "forwarded: " + d.Scenario.Name, Persona: d.Scenario.Persona, Where: "forwarder"}, View: v}
		switch {
		case err != nil:
			r.Err = fmt.Errorf("%w: %v", errCall, err)
		case v.State != agent.StateSettled || v.Split.Estimate || !v.Split.Balanced() || v.Split.Total != d.Scenario.Bill.Total():
			r.Err = fmt.Errorf("after the drain: %s %+v", v.State, v.Split)
		default:
			r.Receipt, r.Err = env.API.ReceiptText(ctx, v.ID)
		}
		results = append(results, r)
		report(w, n+len(results), r)
	}
	r := reconcileDay(ctx, env, n+len(results), w)
	results = append(results, r)
	return results, r.Err
}

// reconcileDay reconciles the day with both counterparties: the insurance
// platform's totals and the payment channel's statement must agree with
// the journal, and nothing may be left unsettled.
func reconcileDay(ctx context.Context, env Env, n int, w io.Writer) Result {
	fmt.Fprintf(w, "\n== the day is reconciled with the platform and the payment channel (medterm reconcile)\n")
	rep, err := env.Reconcile(ctx)
	r := Result{Scenario: Scenario{Name: "reconciliation of the day", Where: "window"}}
	switch {
	case err != nil:
		r.Err = fmt.Errorf("%w: reconcile: %v", errCall, err)
	case !rep.Balanced || rep.Unsettled != 0:
		r.Err = fmt.Errorf("reconciliation: balanced %v, %d differences, %d unsettled", rep.Balanced, len(rep.Diffs), rep.Unsettled)
	case rep.Payments == nil || !rep.Payments.Balanced:
		r.Err = fmt.Errorf("reconciliation: the payment channel's statement %+v does not agree", rep.Payments)
	default:
		for _, t := range rep.Totals {
			r.Receipt += fmt.Sprintf("insurance %s: %d settlements, total %s, fund %s, account %s: balanced\n", t.Insutype, t.Count, t.Total, t.Fund, t.Account)
		}
		p := rep.Payments
		r.Receipt += fmt.Sprintf("payment channel: %d orders (%d on its statement), %s taken less returned: balanced\n", p.Count, p.ChannelCount, p.Amount)
	}
	report(w, n+1, r)
	return r
}

var errCall = errors.New("call failed")

func playOne(ctx context.Context, env Env, i int, sc Scenario) Result {
	r := Result{Scenario: sc}
	p, ok := env.Personas.ByKey(sc.Persona)
	if !ok {
		r.Err = fmt.Errorf("%w: no persona %q", errCall, sc.Persona)
		return r
	}
	body := api.SettleBody{
		Identity: agent.IdentityInput{CertType: agent.CertIDNo, CertNo: p.Certno},
		Operator: agent.Operator{ID: "D017", Name: "Dr Liang", Type: agent.OpterClerk},
		Bill:     sc.Bill,
	}
	key := fmt.Sprintf("%sday-%02d", env.KeyPrefix, i+1)
	if sc.Card {
		return playCard(ctx, env, key, sc, body)
	}
	if sc.QR {
		return playQR(ctx, env, key, sc, body)
	}
	settle := env.API.Settle
	if sc.Where == "window" {
		body.Operator = agent.Operator{ID: "W01", Name: "Window 1", Type: agent.OpterClerk}
		if env.Settle != nil {
			settle = env.Settle
		}
	}
	v, err := settle(ctx, key, body)
	r.View = v
	if err != nil {
		r.Err = fmt.Errorf("%w: settle: %v", errCall, err)
		return r
	}
	if r.Err = check(sc, v); r.Err != nil {
		return r
	}
	if v.State == agent.StateSettled {
		r.Receipt, err = env.API.ReceiptText(ctx, v.ID)
		if err != nil {
			r.Err = fmt.Errorf("%w: receipt: %v", errCall, err)
		}
	}
	return r
}

// playCard has the patient insert the card, the HIS settle for the card
// in the desk's reader, and the patient take the card back.
func playCard(ctx context.Context, env Env, key string, sc Scenario, body api.SettleBody) Result {
	r := Result{Scenario: sc}
	if err := env.Cards.Insert(ctx, sc.Persona); err != nil {
		r.Err = fmt.Errorf("%w: insert the card: %v", errCall, err)
		return r
	}
	defer func() {
		if err := env.Cards.Remove(ctx); err != nil && r.Err == nil {
			r.Err = fmt.Errorf("%w: remove the card: %v", errCall, err)
		}
		if err := waitDesk(ctx, env.API, false); err != nil && r.Err == nil {
			r.Err = fmt.Errorf("%w: %v", errCall, err)
		}
	}()
	if err := waitDesk(ctx, env.API, true); err != nil {
		r.Err = fmt.Errorf("%w: %v", errCall, err)
		return r
	}
	body.Identity = agent.IdentityInput{CardReader: "desk"}
	v, err := env.API.Settle(ctx, key, body)
	r.View = v
	var ae *api.APIError
	switch {
	case sc.Want.Refused != "" && errors.As(err, &ae) && strings.Contains(ae.Message, sc.Want.Refused):
		r.Refusal = ae.Message
		return r
	case sc.Want.Refused != "":
		r.Err = fmt.Errorf("want a refusal mentioning %q, got %v (state %s)", sc.Want.Refused, err, v.State)
		return r
	case err != nil:
		r.Err = fmt.Errorf("%w: settle: %v", errCall, err)
		return r
	}
	if r.Err = check(sc, v); r.Err == nil && (v.State == agent.StateSettled || v.State == agent.StateDeferred) {
		if r.Receipt, err = env.API.ReceiptText(ctx, v.ID); err != nil {
			r.Err = fmt.Errorf("%w: receipt: %v", errCall, err)
		}
	}
	return r
}

// playQR has the patient show the phone's code (or an old screenshot) to
// the kiosk's scanner, and the bill settled for that scan.
func playQR(ctx context.Context, env Env, key string, sc Scenario, body api.SettleBody) Result {
	r := Result{Scenario: sc}
	text := env.codes[sc.ReplayOf]
	if sc.ReplayOf == "" {
		var err error
		if text, err = env.Phone(ctx, sc.Persona); err != nil {
			r.Err = fmt.Errorf("%w: the phone: %v", errCall, err)
			return r
		}
		env.codes[sc.Name] = text
		env.shownAt[sc.Name] = time.Now()
	} else if wait := time.Until(env.shownAt[sc.ReplayOf].Add(env.ScanDedupe + 100*time.Millisecond)); wait > 0 {
		// The screenshot comes a moment later, after the scanner stops
		// taking it for the same reading.
		select {
		case <-ctx.Done():
			r.Err = fmt.Errorf("%w: %v", errCall, ctx.Err())
			return r
		case <-time.After(wait):
		}
	}
	var before agent.Scan
	_, _ = env.API.Do(ctx, http.MethodGet, "/v1/scans/latest", nil, nil, &before)
	if err := env.Scanner.Show(ctx, text); err != nil {
		r.Err = fmt.Errorf("%w: scan: %v", errCall, err)
		return r
	}
	scan, err := waitScan(ctx, env.API, before.ID)
	if err != nil {
		r.Err = fmt.Errorf("%w: %v", errCall, err)
		return r
	}
	if scan.Rejection != nil {
		r.Refusal = fmt.Sprintf("%s: %s / %s", scan.Rejection.Reason, scan.Rejection.ZH, scan.Rejection.EN)
		if sc.Want.Refused == "" || scan.Rejection.Reason != sc.Want.Refused {
			r.Err = fmt.Errorf("the scan was refused: %s", r.Refusal)
		}
		return r
	}
	if sc.Want.Refused != "" {
		r.Err = fmt.Errorf("want the scan refused (%s), it was accepted: %+v", sc.Want.Refused, scan)
		return r
	}
	body.Identity = agent.IdentityInput{Scan: scan.ID}
	body.Operator = agent.Operator{ID: "KIOSK1", Name: "Kiosk 1", Type: agent.OpterKiosk}
	v, err := env.API.Settle(ctx, key, body)
	r.View = v
	if err != nil {
		r.Err = fmt.Errorf("%w: settle: %v", errCall, err)
		return r
	}
	if r.Err = check(sc, v); r.Err == nil && (v.State == agent.StateSettled || v.State == agent.StateDeferred) {
		if r.Receipt, err = env.API.ReceiptText(ctx, v.ID); err != nil {
			r.Err = fmt.Errorf("%w: receipt: %v", errCall, err)
		}
	}
	return r
}

// waitScan waits for a scan newer than the one with id before.
func waitScan(ctx context.Context, c *api.Client, before string) (agent.Scan, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		var sc agent.Scan
		if _, err := c.Do(ctx, http.MethodGet, "/v1/scans/latest", nil, nil, &sc); err == nil && sc.ID != before {
			return sc, nil
		}
		select {
		case <-ctx.Done():
			return agent.Scan{}, fmt.Errorf("the agent did not see the code: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitDesk waits until the agent has read a card in its desk reader
// (present) or sees the reader empty.
func waitDesk(ctx context.Context, c *api.Client, present bool) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		var cards struct {
			Readers []agent.ReaderView `json:"readers"`
		}
		if _, err := c.Do(ctx, http.MethodGet, "/v1/cards", nil, nil, &cards); err != nil {
			return fmt.Errorf("card readers: %w", err)
		}
		if len(cards.Readers) > 0 {
			r := cards.Readers[0]
			if got := r.Card != nil || r.Error != ""; got == present {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the agent did not see the card %s: %w", map[bool]string{true: "inserted", false: "removed"}[present], ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// check compares a settlement with what the scenario must show, and checks
// that it balances to the fen.
func check(sc Scenario, v api.SettlementView) error {
	var problems []string
	want := sc.Want
	if v.State != want.State {
		problems = append(problems, fmt.Sprintf("state %s, want %s", v.State, want.State))
	}
	if want.Payment != "" && v.Pay.Status != want.Payment {
		problems = append(problems, fmt.Sprintf("patient's part %s, want %s", v.Pay.Status, want.Payment))
	}
	source := ""
	if v.Pay.Source != nil {
		source = v.Pay.Source.Kind
	}
	if want.Source != "" && source != want.Source {
		problems = append(problems, fmt.Sprintf("source %s, want %s", source, want.Source))
	}
	if family := v.Pay.Family != nil; want.FamilyPay != family {
		problems = append(problems, fmt.Sprintf("family pay %v, want %v", family, want.FamilyPay))
	}
	if v.State == agent.StateSettled && v.Pay.Amount != v.Split.Cash {
		problems = append(problems, fmt.Sprintf("patient's part %s, the split's cash %s", v.Pay.Amount, v.Split.Cash))
	}
	reason := v.Pay.Reason
	if v.Error != nil {
		reason = v.Error.Code
	}
	if want.Reason != "" && reason != want.Reason {
		problems = append(problems, fmt.Sprintf("reason %s, want %s", reason, want.Reason))
	}
	if v.State == agent.StateSettled || v.State == agent.StateDeferred {
		if !v.Split.Balanced() {
			problems = append(problems, "receipt does not balance: "+v.Split.String())
		}
		if v.Split.Total != sc.Bill.Total() {
			problems = append(problems, fmt.Sprintf("total %s, bill %s", v.Split.Total, sc.Bill.Total()))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func report(w io.Writer, n int, r Result) {
	mark := "ok"
	if r.Err != nil {
		mark = "FAILED"
	}
	fmt.Fprintf(w, "\n== %2d. %s [%s, %s] %s\n", n, r.Scenario.Name, r.Scenario.Persona, r.Scenario.Where, mark)
	if r.Err != nil {
		fmt.Fprintf(w, "   %v\n", r.Err)
	}
	switch {
	case r.Receipt != "":
		fmt.Fprint(w, indent(r.Receipt))
	case r.Refusal != "":
		fmt.Fprintf(w, "   refused: %s\n", r.Refusal)
	case r.View.Error != nil:
		fmt.Fprintf(w, "   %s: %s: %s\n", r.View.State, r.View.Error.Code, r.View.Error.Message)
	}
}

func indent(s string) string {
	return "   " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n   ") + "\n"
}

// Failed counts the results that did not show what they must.
func Failed(rs []Result) int {
	n := 0
	for _, r := range rs {
		if r.Err != nil {
			n++
		}
	}
	return n
}

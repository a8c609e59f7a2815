package stacktest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/events"
	"github.com/seed-a859fada/medterm/agent/glue"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/agent/stacktest"
	"github.com/seed-a859fada/medterm/devices/credential"
)

// The kiosk page, walked in headless Chromium against the agent's API
// over loopback, the agent against the sandbox's platform and payment
// channel: the patients' phones make the codes, the HIS has left their
// bills. Every screen is photographed (kept under MEDTERM_ARTEFACTS) and
// checked to fit, in portrait 1080×1920 and landscape 1920×1080.

// kioskPage is a running agent with a kiosk page and a browser on it.
type kioskPage struct {
	*kioskStack
	t       *testing.T
	bus     *events.Bus
	url     string // the kiosk page
	agent   string // the API's base URL
	offline atomic.Bool
	skew    *skewClock
	browser context.Context
	shots   string
	printed chan string // receipts the kiosk's printer printed
}

// hisToken is the HIS's token for the agent's API.
const hisToken = "his-token-0123456789abcdef"

// skewClock is the kiosk verifier's clock, moved ahead to make a code
// as old as one the patient kept on the phone too long.
type skewClock struct{ ahead atomic.Int64 }

func (c *skewClock) Now() time.Time { return time.Now().Add(time.Duration(c.ahead.Load())) }
func (c *skewClock) After(d time.Duration) <-chan time.Time {
	return time.After(d)
}

// startKioskPage starts the stack, the agent's API (answering browser
// pages from origins too) and a browser.
func startKioskPage(t *testing.T, origins ...string) *kioskPage {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: `make setup` installs it (Debian package chromium)")
	}
	s := stacktest.Start(t, stacktest.Options{})
	p := &kioskPage{t: t, bus: events.New(events.Options{}), skew: &skewClock{}, printed: make(chan string, 16)}
	v, err := credential.NewVerifier(&credential.TrustList{}, glue.Counters{Store: s.Journal}, p.skew, credential.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	k := agent.NewKiosk(agent.KioskConfig{Verifier: glue.Verifier{V: v}, Events: p.bus})
	svc := agent.NewService(agent.ServiceConfig{Journal: s.Journal, Insurance: s.Insurance, Payment: s.Payments, Kiosk: k,
		Offline: agent.DefaultOfflinePolicy(), Receipt: agent.ReceiptHeader{Institution: "东莞市人民医院", TerminalID: "KIOSK01"}, Events: p.bus})
	p.kioskStack = &kioskStack{Stack: s, kiosk: k, svc: svc}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	applied := make(chan error, 1)
	go svc.RunTrustRefresh(ctx, func(raw []byte) error {
		tl, err := credential.DecodeTrustList(raw)
		if err == nil {
			err = v.SetTrustList(tl)
		}
		select {
		case applied <- err:
		default:
		}
		return err
	})
	select {
	case err := <-applied:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the platform's trust list never arrived")
	}
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0", Token: []byte(hisToken), Origins: origins, Service: svc, Kiosk: k,
		Events: p.bus, TerminalID: "KIOSK01", KioskIdle: 3 * time.Second,
		Status: func(context.Context) any { return map[string]any{"online": !p.offline.Load()} },
		Print: func(_ context.Context, text string) error {
			p.printed <- text
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	p.agent = "http://" + srv.Addr()
	p.url = p.agent + "/kiosk"

	p.shots = filepath.Join(artefacts(t), "kiosk")
	if err := os.MkdirAll(p.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-quic", true), chromedp.Flag("lang", "zh-CN"),
		chromedp.WindowSize(1080, 1920), chromedp.UserDataDir(t.TempDir()))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	bctx, tcancel := context.WithTimeout(bctx, 4*time.Minute)
	t.Cleanup(tcancel)
	p.browser = bctx
	return p
}

// artefacts is where tests keep what a person may want to look at after
// a run: MEDTERM_ARTEFACTS, or the test's temporary directory.
func artefacts(t *testing.T) string {
	if d := os.Getenv("MEDTERM_ARTEFACTS"); d != "" {
		return d
	}
	return t.TempDir()
}

// as has p report to t (a subtest) until the returned func is called.
func (p *kioskPage) as(t *testing.T) func() {
	parent := p.t
	p.t = t
	return func() { p.t = parent }
}

func (p *kioskPage) run(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.browser, steps...); err != nil {
		p.t.Fatal(err)
	}
}

// value runs one action that answers a value.
func value[T any](p *kioskPage, a chromedp.Action[T]) T {
	p.t.Helper()
	v, err := chromedp.Run(p.browser, a)
	if err != nil {
		p.t.Fatal(err)
	}
	return v
}

// open loads the kiosk page afresh and waits until it holds its session
// and listens to events.
func (p *kioskPage) open() {
	p.t.Helper()
	p.run(chromedp.EmulateViewport(1080, 1920), chromedp.Navigate(p.url), chromedp.WaitVisible(`body[data-ready="true"]`))
}

// Catalogue codes of the sandbox: a consultation (class A, the fund's
// share) and a cosmetic consultation (class C, all the patient's own).
const (
	consultation = "110200001"
	cosmetic     = "003108000010000"
)

// leave has the HIS leave a bill of one item for a persona.
func (p *kioskPage) leave(persona, key, code string, fen int64) *agent.HeldBill {
	p.t.Helper()
	who, ok := p.Personas.ByKey(persona)
	if !ok {
		p.t.Fatalf("no persona %s", persona)
	}
	h, _, err := p.svc.Hold(context.Background(), agent.HoldRequest{IdempotencyKey: key,
		Identity: agent.IdentityInput{CertType: agent.CertIDNo, CertNo: who.Certno, Name: who.Name},
		Operator: agent.Operator{ID: "D017", Type: agent.OpterClerk},
		Bill: agent.Bill{VisitNo: "MZ" + key, DeptCode: "A03", DeptName: "内科", DoctorID: "D017", DoctorName: "李医生",
			Items: []agent.FeeItem{{Code: code, Class: "01", Quantity: money.QuantityOf(1), UnitPrice: money.PriceOfFen(money.Fen(fen)), Amount: money.Fen(fen)}}}})
	if err != nil {
		p.t.Fatal(err)
	}
	return h
}

// scan has the persona's phone make a code and the kiosk's scanner read it.
func (p *kioskPage) scan(persona string) {
	p.t.Helper()
	p.show(p.t, persona)
}

// screen waits for a screen and photographs it, checking that every text
// fits, in portrait and in landscape.
func (p *kioskPage) screen(name, shot string) {
	p.t.Helper()
	// The screen, or the error screen: a failure is reported at once, with
	// what the page told the patient.
	ctx, cancel := context.WithTimeout(p.browser, 30*time.Second)
	defer cancel()
	sel := "#screen-" + name + ":not([hidden])"
	for _, other := range []string{"error", "confirm", "receipt", "agreement"} {
		sel += ", #screen-" + other + ":not([hidden])"
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(sel)); err != nil {
		p.t.Fatalf("waiting for screen %s (%s): %v", name, shot, err)
	}
	if got := value(p, chromedp.Evaluate[string](`document.body.dataset.screen`)); got != name {
		page := value(p, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
		p.t.Fatalf("screen %s shows %q where %s was due: %s", shot, got, name, page)
	}
	for _, vp := range [][2]int64{{1080, 1920}, {1920, 1080}} {
		p.run(chromedp.EmulateViewport(vp[0], vp[1]))
		overflow := value(p, chromedp.Evaluate[[]string](fitCheck))
		png := value(p, chromedp.CaptureScreenshot())
		if len(overflow) > 0 {
			p.t.Errorf("screen %s at %d×%d: text does not fit: %s", shot, vp[0], vp[1], strings.Join(overflow, "; "))
		}
		if err := os.WriteFile(filepath.Join(p.shots, fmt.Sprintf("%s-%dx%d.png", shot, vp[0], vp[1])), png, 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
	p.run(chromedp.EmulateViewport(1080, 1920))
}

// fitCheck lists every visible element whose text overflows its box, or
// that reaches past the window, and whether the page as a whole scrolls.
const fitCheck = `(() => {
  const out = [];
  const W = window.innerWidth, H = window.innerHeight;
  for (const el of document.querySelectorAll("header *, #offline, main *")) {
    if (!el.getClientRects().length) continue;
    const r = el.getBoundingClientRect();
    const name = el.id ? "#" + el.id : el.tagName.toLowerCase() + "(" + (el.textContent || "").trim().slice(0, 20) + ")";
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).display !== "inline") out.push(name + " scrolls sideways");
    if (r.right > W + 1 || r.left < -1) out.push(name + " passes the window's side");
    if (r.bottom > H + 1) out.push(name + " passes the window's bottom");
  }
  const m = document.querySelector("main");
  if (m.scrollHeight > m.clientHeight + 1) out.push("the screen needs scrolling");
  for (const b of document.querySelectorAll("button")) {
    if (!b.getClientRects().length) continue;
    const r = b.getBoundingClientRect();
    if (r.height < 48 || r.width < 48) out.push("button " + b.textContent + " is smaller than 48 px");
  }
  return out;
})()`

func (p *kioskPage) text(sel string) string {
	p.t.Helper()
	return value(p, chromedp.Text(sel, chromedp.NodeVisible))
}

// settlementOf is the settlement the kiosk made of a held bill.
func (p *kioskPage) settlementOf(h *agent.HeldBill) *agent.Settlement {
	p.t.Helper()
	got, err := p.svc.HeldBill(context.Background(), h.ID)
	if err != nil || got.Settlement == "" {
		p.t.Fatalf("held bill %s: %+v %v", h.ID, got, err)
	}
	st, err := p.svc.Get(context.Background(), got.Settlement)
	if err != nil {
		p.t.Fatal(err)
	}
	return st
}

func TestKioskPageWalksPatientsThroughInARealBrowser(t *testing.T) {
	p := startKioskPage(t)
	p.open()
	p.screen("start", "01-start")
	if got := p.text("#screen-start"); !strings.Contains(got, "请扫描医保码") {
		t.Errorf("start screen says %q; want Chinese first", got)
	}

	t.Run("frictionless payment, and the language switch", func(t *testing.T) {
		defer p.as(t)()
		h := p.leave("bank-card", "kiosk-1", consultation, 12000)
		p.scan("bank-card")
		p.screen("bills", "02-bills")
		if got := p.text("#bill-list"); !strings.Contains(got, "¥120.00") || !strings.Contains(got, "内科") {
			t.Errorf("bill list %q", got)
		}
		p.run(chromedp.Click(`button[data-bill="` + h.ID + `"]`))
		p.screen("receipt", "03-paid")
		if got := p.text("#receipt-title"); got != "缴费成功" {
			t.Errorf("receipt title %q", got)
		}
		select {
		case text := <-p.printed:
			if !strings.Contains(text, "收费凭条 RECEIPT") || !strings.Contains(text, "120.00") {
				t.Errorf("the printed receipt:\n%s", text)
			}
		default:
			t.Error("the kiosk printed no receipt")
		}
		if got := p.text("#receipt-hint"); !strings.Contains(got, "凭条已打印") {
			t.Errorf("receipt hint %q", got)
		}
		if got := p.text("#receipt-split"); !strings.Contains(got, "个人支付") || !strings.Contains(got, "签约银行卡") {
			t.Errorf("split %q: want what the patient paid and from where", got)
		}
		st := p.settlementOf(h)
		if st.State != agent.StateSettled || st.Pay.Status != agent.PayPaid || !strings.Contains(p.text("#receipt-split"), st.Split.Cash.String()) {
			t.Errorf("settlement %s %s, part %s %s; the page shows %q", st.ID, st.State, st.Pay.Status, st.Split.Cash, p.text("#receipt-split"))
		}
		p.run(chromedp.Click("#lang"))
		p.screen("receipt", "04-paid-en")
		if got := p.text("#receipt-title"); got != "Paid" {
			t.Errorf("after the switch the title is %q", got)
		}
		if got := p.text("#receipt-split"); !strings.Contains(got, "You pay") || !strings.Contains(got, "signed bank card") {
			t.Errorf("English split %q", got)
		}
		p.run(chromedp.Click("#lang"), chromedp.Click(`#screen-receipt button[data-action="reset"]`))
		p.screen("start", "05-start-again")
	})

	t.Run("a confirm-first family bill", func(t *testing.T) {
		defer p.as(t)()
		h := p.leave("family-confirm", "kiosk-2", cosmetic, 85000)
		p.scan("family-confirm")
		p.screen("bills", "06-family-bills")
		p.run(chromedp.Click(`button[data-bill="` + h.ID + `"]`))
		p.screen("confirm", "07-family-confirm")
		if got := p.text("#confirm-why"); !strings.Contains(got, "亲情付") {
			t.Errorf("confirm screen says %q; want why (family pay)", got)
		}
		if st := p.settlementOf(h); st.Pay.Status != agent.PayConfirmRequired {
			t.Fatalf("before confirming the part is %s", st.Pay.Status)
		}
		p.run(chromedp.Click("#confirm"))
		p.screen("receipt", "08-family-paid")
		if st := p.settlementOf(h); st.Pay.Status != agent.PayPaid || st.Pay.Family == nil {
			t.Errorf("after confirming the part is %s (family %v)", st.Pay.Status, st.Pay.Family)
		}
		p.run(chromedp.Click(`#screen-receipt button[data-action="reset"]`))
	})

	t.Run("a part over the patient's own limit, paid after confirmation", func(t *testing.T) {
		defer p.as(t)()
		h := p.leave("low-limit", "kiosk-3", cosmetic, 308000)
		p.scan("low-limit")
		p.screen("bills", "09-limit-bills")
		p.run(chromedp.Click(`button[data-bill="` + h.ID + `"]`))
		p.screen("confirm", "10-limit-confirm")
		if got := p.text("#confirm-why"); !strings.Contains(got, "免密") {
			t.Errorf("confirm screen says %q; want why (over the limit)", got)
		}
		if st := p.settlementOf(h); (st.Pay.Status != agent.PayConfirmRequired && st.Pay.Status != agent.PayPending) || !strings.HasPrefix(st.Pay.Reason, "limit_") {
			t.Fatalf("before confirming the part is %s (%s)", st.Pay.Status, st.Pay.Reason)
		}
		p.run(chromedp.Click("#confirm"))
		p.screen("receipt", "11-limit-paid")
		if st := p.settlementOf(h); st.Pay.Status != agent.PayPaid {
			t.Errorf("after confirming the part is %s (%s)", st.Pay.Status, st.Pay.Reason)
		}
		p.run(chromedp.Click(`#screen-receipt button[data-action="reset"]`))
	})

	t.Run("an expired code", func(t *testing.T) {
		defer p.as(t)()
		p.skew.ahead.Store(int64(5 * time.Minute))
		p.scan("bank-card")
		p.skew.ahead.Store(0)
		p.screen("error", "12-expired-code")
		if got := p.text("#error-message"); !strings.Contains(got, "请在手机上刷新医保码") {
			t.Errorf("error screen says %q", got)
		}
		if got := p.text("#error-code"); got != "CODE_EXPIRED" {
			t.Errorf("error code %q", got)
		}
		p.run(chromedp.Click("#lang"))
		if got := p.text("#error-message"); !strings.Contains(got, "refresh the code on your phone") {
			t.Errorf("English error %q", got)
		}
		p.run(chromedp.Click("#lang"), chromedp.Click(`#screen-error button[data-action="reset"]`))
	})

	t.Run("the offline banner", func(t *testing.T) {
		defer p.as(t)()
		p.offline.Store(true)
		p.bus.Publish(events.PlatformOffline, map[string]string{"reason": "test"})
		p.run(chromedp.WaitVisible("#offline"))
		p.screen("start", "13-offline")
		if got := p.text("#offline"); !strings.Contains(got, "网络中断") {
			t.Errorf("banner %q", got)
		}
		p.open() // a page loaded while offline shows it from the status
		p.run(chromedp.WaitVisible("#offline"))
		p.offline.Store(false)
		p.bus.Publish(events.PlatformOnline, nil)
		p.run(chromedp.WaitNotVisible("#offline"))
	})

	t.Run("signing up and lowering the limits, then a bill over the new limit", func(t *testing.T) {
		defer p.as(t)()
		h := p.leave("no-agreement", "kiosk-5", cosmetic, 5000)
		p.scan("no-agreement")
		p.screen("bills", "15-unsigned-bills")
		p.run(chromedp.Click("#to-agreement"))
		p.screen("agreement", "16-not-signed")
		if got := p.text("#agreement-state"); !strings.Contains(got, "尚未签约") {
			t.Fatalf("agreement screen says %q", got)
		}
		p.run(chromedp.SendKeys("#card-no", "6222021234567890128"), chromedp.Click("#sign"), chromedp.WaitVisible(`body[data-agreement="signed"]`))
		p.screen("agreement", "17-signed")
		if got := p.text("#agreement-state"); !strings.Contains(got, "已签约") || !strings.Contains(got, "6222 **** 0128") || !strings.Contains(got, "¥300.00") {
			t.Fatalf("after signing: %q", got)
		}
		p.run(chromedp.SendKeys("#limit-payment", "20"), chromedp.SendKeys("#limit-daily", "100"), chromedp.Click("#save-limits"))
		ctx, cancel := context.WithTimeout(p.browser, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.WaitVisible(`body[data-agreement="saved"]`)); err != nil {
			t.Fatalf("the limits were not saved: %v (%s)", err, p.text("#agreement-msg"))
		}
		p.screen("agreement", "18-limits")
		if got := p.text("#agreement-state"); !strings.Contains(got, "¥20.00") || !strings.Contains(got, "¥100.00") {
			t.Fatalf("after lowering the limits: %q", got)
		}
		p.run(chromedp.Click("#agreement-back"))
		p.screen("bills", "19-bills-again")
		p.run(chromedp.Click(`button[data-bill="` + h.ID + `"]`))
		p.screen("confirm", "20-over-the-new-limit")
		st := p.settlementOf(h)
		if st.Pay.Reason != agent.ReasonLimitPerPayment || (st.Pay.Status != agent.PayConfirmRequired && st.Pay.Status != agent.PayPending) {
			t.Fatalf("the bill over the new limit: part %s (%s); want it waiting, for the limit per payment", st.Pay.Status, st.Pay.Reason)
		}
		if got := p.text("#confirm-why"); !strings.Contains(got, "免密") {
			t.Errorf("confirm screen says %q", got)
		}
		p.run(chromedp.Click(`#screen-confirm button[data-action="reset"]`))
	})

	t.Run("the idle timeout forgets the patient", func(t *testing.T) {
		defer p.as(t)()
		p.leave("acct-first", "kiosk-4", consultation, 5000)
		p.scan("acct-first")
		p.screen("bills", "14-before-idle")
		// Untouched for the configured idle time (3 s here), the page
		// returns to the start by itself.
		p.run(chromedp.WaitVisible("#screen-start"))
		items := value(p, chromedp.Evaluate[int](`document.querySelectorAll("#bill-list li").length`))
		if items != 0 {
			t.Errorf("after the idle timeout %d bills of the last patient are still in the page", items)
		}
	})
}

// A kiosk session is the page's own, good for the kiosk's routes only,
// and given to this machine's browser only: the HIS's routes refuse it.
func TestKioskSessionIsGoodForTheKiosksRoutesOnly(t *testing.T) {
	p := startKioskPage(t)
	p.open()
	status := value(p, chromedp.Evaluate[int](`(async () => {
	  const s = await (await fetch("/v1/kiosk/session", {method: "POST"})).json();
	  const r = await fetch("/v1/settlements", {headers: {Authorization: "Bearer " + s.token}});
	  return r.status;
	})()`, chromedp.EvalAwaitPromise))
	if status != 401 {
		t.Errorf("the HIS's settlement list with a kiosk session: %d, want 401", status)
	}
}

package agent

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/width"

	"github.com/seed-a859fada/medterm/agent/mask"
	"github.com/seed-a859fada/medterm/agent/money"
)

// ReceiptHeader is what every receipt of this terminal prints on top, and
// how wide its paper is.
type ReceiptHeader struct {
	Institution string
	TerminalID  string
	// Width is the paper's width in display columns (Paper58, Paper80);
	// zero is Paper58.
	Width int
}

// Paper widths in display columns of a thermal printer's 12×24 font: a
// Chinese character takes two.
const (
	Paper58 = 32
	Paper80 = 48
)

// Receipt is a settlement as the patient and the cashier read it. It is
// built only from a split that balances under the platform's identity
// (total = funds + personal account + patient's part + hospital's part):
// its lines never show a gap.
type Receipt struct {
	Header      ReceiptHeader  `json:"header"`
	ID          string         `json:"id"`
	SetlID      string         `json:"setl_id,omitempty"`
	State       State          `json:"state"`
	Patient     string         `json:"patient"` // masked
	Operator    string         `json:"operator"`
	Time        time.Time      `json:"time"`
	Items       []ReceiptItem  `json:"items"`
	Split       InsuranceSplit `json:"split"`
	Pay         PaymentLeg     `json:"pay"`
	Refund      *Refund        `json:"refund,omitempty"`
	Note        string         `json:"note,omitempty"`
	Provisional bool           `json:"provisional,omitempty"`
	// Declined is the refusal slip of a bill that was not settled (Error
	// says why): nothing was booked or taken.
	Declined bool     `json:"declined,omitempty"`
	Error    *Failure `json:"error,omitempty"`
}

// ReceiptItem is one bill line with the class the platform gave it.
type ReceiptItem struct {
	Name     string         `json:"name"`
	Class    string         `json:"class,omitempty"`
	Quantity money.Quantity `json:"quantity"`
	Amount   money.Fen      `json:"amount_fen"`
}

// Receipt builds the receipt of st. Personal data is masked.
func (s *Service) Receipt(st *Settlement) (Receipt, error) {
	switch st.State {
	case StateSettled, StatePaying, StateRefunded, StateRefunding, StateDeferred:
	case StateDeclined, StateArrears:
		return s.slip(st), nil
	default:
		return Receipt{}, fmt.Errorf("%w: settlement %s is %s: no receipt yet", ErrConflict, st.ID, st.State)
	}
	if !st.Split.Balanced() {
		return Receipt{}, fmt.Errorf("%w: settlement %s: %s", ErrUnbalanced, st.ID, st.Split)
	}
	pay := st.Pay
	pay.Orders = nil // the receipt says what happened, not how
	r := Receipt{
		Header: s.header, ID: st.ID, SetlID: st.SetlID, State: st.State,
		Patient: mask.Name(st.Personal.Name), Operator: st.Operator.ID, Time: st.SettledAt,
		Split: st.Split, Pay: pay, Refund: st.Refund, Note: payNote(st.Pay),
	}
	r.Items = receiptItems(st)
	if st.State == StateDeferred {
		r.Provisional, r.Time = true, st.DeferredAt
		r.Note = "暂缓结算：网络恢复后自动结算，之前不会扣款 / DEFERRED: settled when the network is back; nothing is taken until then"
	}
	return r, nil
}

// slip is the refusal slip of a bill the platform declined: what was
// asked, why it was refused, and that nothing was taken.
func (s *Service) slip(st *Settlement) Receipt {
	r := Receipt{Header: s.header, ID: st.ID, State: st.State, Patient: mask.Name(st.Personal.Name), Operator: st.Operator.ID,
		Time: st.UpdatedAt, Items: receiptItems(st), Declined: true, Error: st.Error}
	r.Split.Total = st.Bill.Total()
	r.Note = "未结算，未扣款，请到窗口咨询 / NOT SETTLED: nothing was taken; please ask at the window"
	if st.State == StateArrears {
		r.Note = "医保未结算，本次费用请到窗口缴纳 / not settled by the insurance: please pay this bill at the window"
	}
	return r
}

func receiptItems(st *Settlement) []ReceiptItem {
	var items []ReceiptItem
	for i, it := range st.Bill.Items {
		name := it.Name
		if name == "" {
			name = it.Code
		}
		class := it.Class
		if i < len(st.Lines) && st.Lines[i].Class != "" {
			class = st.Lines[i].Class
		}
		items = append(items, ReceiptItem{Name: name, Class: class, Quantity: it.Quantity, Amount: it.Amount})
	}
	return items
}

// payNote tells the patient, in one line, what happened to the part they
// pay and what to do next.
func payNote(p PaymentLeg) string {
	who := ""
	if p.Family != nil {
		who = "（亲情付 family pay）"
	}
	switch p.Status {
	case PayNone:
		return "无需个人支付 / nothing for you to pay"
	case PayPaid:
		return "已从" + sourceName(p.Source) + "扣款" + who + " / paid from " + sourceNameEN(p.Source)
	case PayPaying, PayDue:
		return "扣款处理中 / being paid: the payment channel has not answered yet"
	case PayPending:
		return "未支付：" + reasonText(p.Reason) + "，请到自助机或窗口缴费 / NOT PAID: please pay at the kiosk or the window"
	case PayConfirmRequired:
		return "待确认：" + reasonText(p.Reason) + "，请在自助机确认 / to confirm at the kiosk before it is paid"
	case PayCollected:
		return "已在窗口收取（" + collectName(p.Collected) + "）/ paid at the window"
	case PayReturned:
		return "已原路退回 / returned to where it was paid from"
	case PayNotTaken:
		return "未曾扣款，无需退回 / never taken, nothing to return"
	case PayReturnAtWindow:
		return "请到窗口领取退款 / collect the refund at the window"
	case PayReturning:
		return "退款处理中 / being returned"
	}
	return p.Status
}

func sourceName(src *PaySource) string {
	if src == nil {
		return "签约账户"
	}
	name := map[string]string{SourceBankCard: "签约银行卡", SourceCreditLine: "信用就医额度", SourceCardAccount: "社保卡金融账户"}[src.Kind]
	if name == "" {
		name = "签约账户"
	}
	if src.Masked != "" {
		name += " " + src.Masked
	}
	return name
}

func sourceNameEN(src *PaySource) string {
	if src == nil {
		return "the signed account"
	}
	switch src.Kind {
	case SourceBankCard:
		return "the signed bank card"
	case SourceCreditLine:
		return "the medical credit line"
	case SourceCardAccount:
		return "the card's financial account"
	}
	return "the signed account"
}

func collectName(c *Collection) string {
	if c == nil {
		return ""
	}
	name := map[string]string{CollectCash: "现金 cash", CollectWeChat: "微信 WeChat", CollectAlipay: "支付宝 Alipay", CollectCard: "银行卡 card"}[c.Channel]
	if c.Reference != "" {
		name += " " + c.Reference
	}
	return name
}

func reasonText(code string) string {
	switch code {
	case ReasonNoAgreement:
		return "未签约无感支付"
	case ReasonLimitPerPayment:
		return "超过单笔免密额度"
	case ReasonLimitDaily:
		return "超过单日免密额度"
	case ReasonInsufficient:
		return "签约账户余额不足"
	case ReasonConfirmRequired:
		return "亲情付需本人确认"
	case ReasonSourceInvalid:
		return "签约账户不可用"
	case ReasonNoChannel, ReasonNoSource:
		return "无可用支付方式"
	}
	return code
}

// fundNames are the fund parts' labels.
var fundNames = map[string]string{
	FundPooled: "统筹基金 Pooled fund", FundCivilServant: "公务员补助 Civil servants",
	FundEnterprise: "企业补充 Enterprise suppl.", FundSeriousIllness: "大病保险 Serious illness",
	FundLargeAmount: "大额补助 Large amounts", FundAssistance: "医疗救助 Assistance", FundOther: "其他基金 Other funds",
}

// Width is the receipt's width in display columns.
func (r Receipt) Width() int {
	if r.Header.Width > 0 {
		return r.Header.Width
	}
	return Paper58
}

// Text renders the receipt as wide as its paper, Chinese first with the
// English beside, laid out by display width (a Chinese character takes
// two columns): no line is wider than the paper.
func (r Receipt) Text() string {
	w := r.Width()
	var b strings.Builder
	line := func(s string) { b.WriteString(s + "\n") }
	pair := func(left, right string) { line(columns(left, right, w)) }
	rule := strings.Repeat("-", w)
	row := func(label string, v money.Fen) { pair("  "+label, v.String()) }
	title := "收费凭条 RECEIPT"
	switch {
	case r.Provisional:
		title = "暂缓结算 PROVISIONAL"
	case r.Declined:
		title = "未结算 NOT SETTLED"
	}
	for _, l := range wrap(r.Header.Institution, w) {
		line(l)
	}
	pair(title, r.Header.TerminalID)
	line(rule)
	pair("结算号 No.", r.ID)
	if r.SetlID != "" {
		line("医保结算号 Insurance No.")
		line(fit("  "+r.SetlID, w))
	}
	pair("患者 Patient", r.Patient)
	pair("操作员 Operator", r.Operator)
	pair("时间 Time", chinaTime(r.Time))
	line(rule)
	for _, it := range r.Items {
		right := fmt.Sprintf("x%s %s", trimQuantity(it.Quantity), it.Amount)
		pair(fit(it.Name, w-displayWidth(right)-1), right)
	}
	line(rule)
	row("总金额 Total", r.Split.Total)
	if r.Declined {
		if r.Error != nil {
			for _, l := range wrap("原因 Reason: "+r.Error.Code+" "+r.Error.Message, w) {
				line(l)
			}
		}
	} else {
		r.splitLines(row, func(s string) {
			for _, l := range wrap(s, w) {
				line(l)
			}
		})
	}
	line(rule)
	for _, l := range wrap(r.Note, w) {
		line(l)
	}
	if r.Refund != nil {
		r.refundLines(line, pair, rule, w)
	}
	return b.String()
}

func (r Receipt) splitLines(row func(string, money.Fen), text func(string)) {
	for _, f := range r.Split.Funds {
		row(fundNames[f.Kind], f.Amount)
	}
	if len(r.Split.Funds) == 0 || r.Split.Estimate {
		row("基金支付 Funds", r.Split.Fund)
	}
	row("个人账户 Account", r.Split.Account)
	if r.Split.MutualAid != 0 {
		row("  其中共济 mutual aid", r.Split.MutualAid)
	}
	if r.Split.Hospital != 0 {
		row("医院负担 Hospital", r.Split.Hospital)
	}
	row("个人支付 You pay", r.Split.Cash)
	if r.Split.Estimate {
		text("  估算：按起付线已满计算，结算后为准 ESTIMATE: final when settled")
		row("最多支付 At most", r.Split.Total)
	}
}

// refundLines say who refunded, when, why, and what went back where.
func (r Receipt) refundLines(line func(string), pair func(string, string), rule string, w int) {
	f := r.Refund
	line(rule)
	switch f.State {
	case StateRefunded:
		pair("已退费 REFUNDED", (-f.Split.Total).String())
	case StateRefunding:
		pair("退费处理中 REFUNDING", "")
	default:
		pair("退费未完成 REFUND "+strings.ToUpper(string(f.State)), "")
	}
	pair("  退费人 By", f.Operator.ID)
	at := f.At
	if at.IsZero() {
		at = f.Requested
	}
	pair("  时间 At", chinaTime(at))
	if f.Reason != "" {
		for _, l := range wrap("  原因 Why: "+f.Reason, w) {
			line(l)
		}
	}
	if f.Insured {
		pair("  医保退回 Insurance", (-f.Split.Fund - f.Split.Account).String())
	}
	for _, l := range wrap("  个人部分 Your part: "+payNote(r.Pay), w) {
		line(l)
	}
}

// chinaTime is a time in China's zone, which it names: a receipt may be
// read by someone whose computer is elsewhere.
func chinaTime(t time.Time) string {
	return t.In(CST).Format("2006-01-02 15:04") + " UTC+8"
}

// DisplayWidth is how many columns s takes on a receipt printer: two for
// wide, fullwidth and ambiguous characters, one for the rest.
func DisplayWidth(s string) int { return displayWidth(s) }

func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		// Ambiguous characters (…, ×, ·) print two columns wide in the
		// GB18030 fonts of Chinese receipt printers: counted as two, a line
		// fits whichever way they print.
		case width.EastAsianWide, width.EastAsianFullwidth, width.EastAsianAmbiguous:
			n += 2
		default:
			n++
		}
	}
	return n
}

// fit cuts s to at most w columns, marking a cut with "…".
func fit(s string, w int) string {
	if displayWidth(s) <= w {
		return s
	}
	const ellipsis = "…"
	out, n := []rune{}, 0
	for _, r := range s {
		rw := displayWidth(string(r))
		if n+rw > w-displayWidth(ellipsis) {
			break
		}
		out, n = append(out, r), n+rw
	}
	return string(out) + ellipsis
}

// columns puts left and right on one line of w columns, left cut to fit.
func columns(left, right string, w int) string {
	if right == "" {
		return fit(left, w)
	}
	left = fit(left, w-displayWidth(right)-1)
	return left + strings.Repeat(" ", max(1, w-displayWidth(left)-displayWidth(right))) + right
}

// wrap breaks s into lines of at most w columns: between any two Chinese
// characters, and between words elsewhere (a word longer than a line is
// cut).
func wrap(s string, w int) []string {
	var lines []string
	cur, n := "", 0
	flush := func() {
		if t := strings.TrimRight(cur, " "); t != "" {
			lines = append(lines, t)
		}
		cur, n = "", 0
	}
	for _, tok := range wrapTokens(s) {
		tw := displayWidth(tok)
		if n+tw > w {
			flush()
			if tok == " " {
				continue
			}
		}
		for tw > w { // a word wider than the line
			cut := fit(tok, w)
			cut = strings.TrimSuffix(cut, "…")
			lines = append(lines, cut)
			tok = strings.TrimPrefix(tok, cut)
			tw = displayWidth(tok)
		}
		cur, n = cur+tok, n+tw
	}
	flush()
	return lines
}

// wrapTokens splits s into what wrap may not break: a Chinese character,
// a run of other characters without a space, a space.
func wrapTokens(s string) []string {
	var toks []string
	word := []rune{}
	end := func() {
		if len(word) > 0 {
			toks = append(toks, string(word))
			word = word[:0]
		}
	}
	for _, r := range s {
		switch {
		case r == ' ':
			end()
			toks = append(toks, " ")
		case displayWidth(string(r)) == 2:
			end()
			toks = append(toks, string(r))
		default:
			word = append(word, r)
		}
	}
	end()
	return toks
}

// trimQuantity writes a quantity without needless decimals: 2, 0.5.
func trimQuantity(q money.Quantity) string {
	s := strings.TrimRight(q.String(), "0")
	return strings.TrimSuffix(s, ".")
}

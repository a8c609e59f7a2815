package agent

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/width"

	"github.com/seed-a859fada/medterm/agent/mask"
	"github.com/seed-a859fada/medterm/agent/money"
)

// ReceiptHeader is what every receipt of this terminal prints on top.
type ReceiptHeader struct {
	Institution string
	TerminalID  string
}

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
	for i, it := range st.Bill.Items {
		name := it.Name
		if name == "" {
			name = it.Code
		}
		class := it.Class
		if i < len(st.Lines) && st.Lines[i].Class != "" {
			class = st.Lines[i].Class
		}
		r.Items = append(r.Items, ReceiptItem{Name: name, Class: class, Quantity: it.Quantity, Amount: it.Amount})
	}
	if st.State == StateDeferred {
		r.Provisional, r.Time = true, st.DeferredAt
		r.Note = "暂缓结算：网络恢复后自动结算，之前不会扣款 / DEFERRED: settled when the network is back; nothing is taken until then"
	}
	return r, nil
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

// ReceiptWidth is a receipt line's width in display columns: 40 on a
// 58 mm thermal printer.
const ReceiptWidth = 40

// Text renders the receipt ReceiptWidth columns wide, laid out by display
// width (a Chinese character takes two columns).
func (r Receipt) Text() string {
	var b strings.Builder
	rule := strings.Repeat("-", ReceiptWidth)
	row := func(label string, v money.Fen) { b.WriteString(columns("  "+label, v.String(), ReceiptWidth) + "\n") }
	title := "收费凭条 RECEIPT"
	if r.Provisional {
		title = "暂缓结算凭条 PROVISIONAL"
	}
	fmt.Fprintf(&b, "%s\n%s\n%s\n", fit(r.Header.Institution, ReceiptWidth), columns(title, "终端 "+r.Header.TerminalID, ReceiptWidth), rule)
	fmt.Fprintf(&b, "%s\n", columns("结算号 No.", r.ID, ReceiptWidth))
	if r.SetlID != "" {
		fmt.Fprintf(&b, "%s\n", columns("医保结算 ID", r.SetlID, ReceiptWidth))
	}
	fmt.Fprintf(&b, "%s\n%s\n%s\n%s\n", columns("患者 Patient", r.Patient, ReceiptWidth), columns("操作员 Operator", r.Operator, ReceiptWidth),
		columns("时间 Time", r.Time.In(CST).Format("2006-01-02 15:04 CST"), ReceiptWidth), rule)
	for _, it := range r.Items {
		right := fmt.Sprintf("x%s %s", trimQuantity(it.Quantity), it.Amount)
		b.WriteString(columns(fit(it.Name, ReceiptWidth-displayWidth(right)-1), right, ReceiptWidth) + "\n")
	}
	b.WriteString(rule + "\n")
	row("总金额 Total", r.Split.Total)
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
		for _, l := range []string{"估算：按起付线已满计算，结算后为准", "ESTIMATE: final amounts when settled", fmt.Sprintf("最多支付 at most %s", r.Split.Total)} {
			b.WriteString("  " + fit(l, ReceiptWidth-2) + "\n")
		}
	}
	b.WriteString(rule + "\n")
	for _, l := range wrap(r.Note, ReceiptWidth) {
		b.WriteString(l + "\n")
	}
	if r.Refund != nil && r.Refund.State == StateRefunded {
		b.WriteString(rule + "\n")
		fmt.Fprintf(&b, "%s\n", columns("已退费 REFUNDED", (-r.Refund.Split.Total).String(), ReceiptWidth))
		fmt.Fprintf(&b, "%s\n", columns("  by "+r.Refund.Operator.ID, r.Refund.At.In(CST).Format("01-02 15:04"), ReceiptWidth))
	}
	return b.String()
}

// displayWidth is how many columns s takes on a terminal or a receipt
// printer: two for wide and fullwidth characters, one for the rest.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
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
	out, n := []rune{}, 0
	for _, r := range s {
		rw := displayWidth(string(r))
		if n+rw > w-1 {
			break
		}
		out, n = append(out, r), n+rw
	}
	return string(out) + "…"
}

// columns puts left and right on one line of w columns, left cut to fit.
func columns(left, right string, w int) string {
	left = fit(left, w-displayWidth(right)-1)
	return left + strings.Repeat(" ", max(1, w-displayWidth(left)-displayWidth(right))) + right
}

// wrap breaks s into lines of at most w columns.
func wrap(s string, w int) []string {
	var lines []string
	var cur []rune
	n := 0
	for _, r := range s {
		rw := displayWidth(string(r))
		if n+rw > w {
			lines = append(lines, string(cur))
			cur, n = nil, 0
			if r == ' ' {
				continue
			}
		}
		cur, n = append(cur, r), n+rw
	}
	if len(cur) > 0 {
		lines = append(lines, string(cur))
	}
	return lines
}

// trimQuantity writes a quantity without needless decimals: 2, 0.5.
func trimQuantity(q money.Quantity) string {
	s := strings.TrimRight(q.String(), "0")
	return strings.TrimSuffix(s, ".")
}

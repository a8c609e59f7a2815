package protocol

import (
	"encoding/json"
	"fmt"

	"github.com/seed-a859fada/medterm/agent/money"
)

// The settlement transactions: pre-settlement, settlement, cancel and
// reversal (JX-SPEC §5.2.3.7-11, §5.2.7.1).

// 2206 pre-settlement.

type PreSettleInput struct {
	Data SettleQuery `json:"data"`
}

// SettleQuery is the input common to 2206 and 2207.
type SettleQuery struct {
	PsnNo         string `json:"psn_no"`
	MdtrtCertType string `json:"mdtrt_cert_type"`
	MdtrtCertNo   string `json:"mdtrt_cert_no"`
	MedType       string `json:"med_type"` // "11" general outpatient
	MedfeeSumamt  Amount `json:"medfee_sumamt"`
	PsnSetlway    string `json:"psn_setlway"` // "01" by item
	MdtrtID       string `json:"mdtrt_id"`
	ChrgBchno     string `json:"chrg_bchno"`
	Insutype      string `json:"insutype"`
	// AcctUsedFlag "1": the personal account pays what it can; "0": the
	// whole personal part is cash (the payment channel's).
	AcctUsedFlag string `json:"acct_used_flag"`
	CardSn       string `json:"card_sn"`
	PsnCertType  string `json:"psn_cert_type"`
	Certno       string `json:"certno"`
	PsnType      string `json:"psn_type"`
	PsnName      string `json:"psn_name"`
}

type PreSettleOutput struct {
	Setlinfo   SetlInfo              `json:"setlinfo"`
	Setldetail OneOrMany[SetlDetail] `json:"setldetail"`
	// Payplan is SANDBOX-ONLY and TEMPORARY (see PersonInfoOutput.Payinfo).
	Payplan PayResult `json:"payplan"`
}

// 2207 settlement.

type SettleInput struct {
	Data SettleData `json:"data"`
}

// SettleData repeats the pre-settlement's class amounts, which 2207
// requires.
type SettleData struct {
	SettleQuery
	Invono          string `json:"invono"`
	FulamtOwnpayAmt Amount `json:"fulamt_ownpay_amt"`
	OverlmtSelfpay  Amount `json:"overlmt_selfpay"`
	PreselfpayAmt   Amount `json:"preselfpay_amt"`
	InscpScpAmt     Amount `json:"inscp_scp_amt"`
}

type SettleOutput struct {
	Setlinfo   SetlInfo              `json:"setlinfo"`
	Setldetail OneOrMany[SetlDetail] `json:"setldetail"`
	// Payresult is SANDBOX-ONLY and TEMPORARY (see
	// PersonInfoOutput.Payinfo).
	Payresult PayResult `json:"payresult"`
}

// SetlInfo is the split of a settlement (表87; the reduced set of 2208 is
// a subset). It balances as real platforms balance:
//
//	medfee_sumamt = fund_pay_sumamt + acct_pay + psn_cash_pay + hosp_part_amt
//	psn_part_amt  = acct_pay + psn_cash_pay (when present)
//
// fund_pay_sumamt is the funds' items (hifp_pay, cvlserv_pay, hifes_pay,
// hifmi_pay, hifob_pay, maf_pay, oth_pay and province extras such as
// hifdm_pay); the items are not checked against it, since gateways add
// funds of their own.
type SetlInfo struct {
	MdtrtID       string `json:"mdtrt_id,omitempty"`
	SetlID        string `json:"setl_id,omitempty"` // 2207 and 2208; 2206 has none
	PsnNo         string `json:"psn_no,omitempty"`
	PsnName       string `json:"psn_name,omitempty"`
	PsnCertType   string `json:"psn_cert_type,omitempty"`
	Certno        string `json:"certno,omitempty"`
	Gend          string `json:"gend,omitempty"`
	Naty          string `json:"naty,omitempty"`
	Brdy          string `json:"brdy,omitempty"`
	Age           Age    `json:"age,omitempty"`
	Insutype      string `json:"insutype,omitempty"`
	PsnType       string `json:"psn_type,omitempty"`
	CvlservFlag   string `json:"cvlserv_flag,omitempty"`
	SetlTime      string `json:"setl_time,omitempty"`
	MdtrtCertType string `json:"mdtrt_cert_type,omitempty"`
	MedType       string `json:"med_type,omitempty"`

	MedfeeSumamt    Amount    `json:"medfee_sumamt"`
	FulamtOwnpayAmt Amount    `json:"fulamt_ownpay_amt"`
	OverlmtSelfpay  Amount    `json:"overlmt_selfpay"`
	PreselfpayAmt   Amount    `json:"preselfpay_amt"`
	InscpScpAmt     Amount    `json:"inscp_scp_amt"`
	ActPayDedc      Amount    `json:"act_pay_dedc"`
	HifpPay         Amount    `json:"hifp_pay"`
	PoolPropSelfpay Ratio     `json:"pool_prop_selfpay"`
	CvlservPay      Amount    `json:"cvlserv_pay"`
	HifesPay        Amount    `json:"hifes_pay"`
	HifmiPay        Amount    `json:"hifmi_pay"`
	HifobPay        Amount    `json:"hifob_pay"`
	MafPay          Amount    `json:"maf_pay"`
	OthPay          Amount    `json:"oth_pay"`
	FundPaySumamt   Amount    `json:"fund_pay_sumamt"`
	PsnPartAmt      OptAmount `json:"psn_part_amt"`
	AcctPay         Amount    `json:"acct_pay"`
	// PsnCashPay is read from psn_cash_pay, or from pdn_cash_pay, the
	// specification's misspelling in 2208 that every client copies.
	PsnCashPay    Amount `json:"psn_cash_pay"`
	HospPartAmt   Amount `json:"hosp_part_amt"`
	Balc          Amount `json:"balc"`
	AcctMulaidPay Amount `json:"acct_mulaid_pay"`

	MedinsSetlID string `json:"medins_setl_id,omitempty"` // the msgid the institution sent
	ClrOptins    string `json:"clr_optins,omitempty"`
	ClrWay       string `json:"clr_way,omitempty"`
	ClrType      string `json:"clr_type,omitempty"`
}

// UnmarshalJSON reads psn_cash_pay or, failing it, pdn_cash_pay.
func (s *SetlInfo) UnmarshalJSON(b []byte) error {
	type plain SetlInfo
	var v struct {
		plain
		Psn OptAmount `json:"psn_cash_pay"`
		Pdn OptAmount `json:"pdn_cash_pay"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = SetlInfo(v.plain)
	switch {
	case v.Psn.Set:
		s.PsnCashPay = Amount(v.Psn.V)
	case v.Pdn.Set:
		s.PsnCashPay = Amount(v.Pdn.V)
	}
	return nil
}

// Balanced reports whether the split adds up to the fen.
func (s SetlInfo) Balanced() bool { return s.Imbalance() == "" }

// Imbalance says how the split fails to add up, or "" when it balances.
func (s SetlInfo) Imbalance() string {
	parts := s.FundPaySumamt.Fen() + s.AcctPay.Fen() + s.PsnCashPay.Fen() + s.HospPartAmt.Fen()
	if s.MedfeeSumamt.Fen() != parts {
		return fmt.Sprintf("medfee_sumamt %s ≠ fund_pay_sumamt %s + acct_pay %s + psn_cash_pay %s + hosp_part_amt %s",
			s.MedfeeSumamt.Fen(), s.FundPaySumamt.Fen(), s.AcctPay.Fen(), s.PsnCashPay.Fen(), s.HospPartAmt.Fen())
	}
	if s.PsnPartAmt.Set && s.PsnPartAmt.V != s.AcctPay.Fen()+s.PsnCashPay.Fen() {
		return fmt.Sprintf("psn_part_amt %s ≠ acct_pay %s + psn_cash_pay %s", s.PsnPartAmt.V, s.AcctPay.Fen(), s.PsnCashPay.Fen())
	}
	return ""
}

// FundItems are the funds' shares by field, in the table's order.
func (s SetlInfo) FundItems() []struct {
	Field  string
	Amount money.Fen
} {
	return []struct {
		Field  string
		Amount money.Fen
	}{
		{"hifp_pay", s.HifpPay.Fen()}, {"cvlserv_pay", s.CvlservPay.Fen()}, {"hifes_pay", s.HifesPay.Fen()},
		{"hifmi_pay", s.HifmiPay.Fen()}, {"hifob_pay", s.HifobPay.Fen()}, {"maf_pay", s.MafPay.Fen()},
		{"oth_pay", s.OthPay.Fen()},
	}
}

// SetlDetail is one fund's line of a settlement (setldetail). Real answers
// carry "" in every amount of it; it does not sum to either total and is
// not checked against them.
type SetlDetail struct {
	FundPayType     string `json:"fund_pay_type"` // a code, though some clients type it as a number
	InscpScpAmt     Amount `json:"inscp_scp_amt"`
	CrtPaybLmtAmt   Amount `json:"crt_payb_lmt_amt"`
	FundPayamt      Amount `json:"fund_payamt"`
	FundPayTypeName string `json:"fund_pay_type_name"`
	SetlProcInfo    string `json:"setl_proc_info"`
}

// UnmarshalJSON reads fund_pay_type as a string or a number.
func (d *SetlDetail) UnmarshalJSON(b []byte) error {
	type plain SetlDetail
	var v struct {
		plain
		Type json.RawMessage `json:"fund_pay_type"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*d = SetlDetail(v.plain)
	d.FundPayType = looseText(v.Type)
	return nil
}

// Fund payment types of setldetail (dict 6.47) that the sandbox books.
const (
	FundTypeEmployeePool = "310100" // 职工基本医疗保险统筹基金
	FundTypeResidentPool = "390100" // 城乡居民基本医疗保险基金
	FundTypeAssistance   = "610100" // 医疗救助基金
	FundTypeHospital     = "630100" // 医院负担 (in clients)
)

// 2208 settlement cancel.

type CancelInput struct {
	Data CancelData `json:"data"`
}

type CancelData struct {
	SetlID  string `json:"setl_id"`
	MdtrtID string `json:"mdtrt_id"`
	PsnNo   string `json:"psn_no"`
}

// CancelOutput: setlinfo is the reduced set of 表99, amounts negative (an
// assumption of the sandbox; no real 2208 answer is public), the cash
// part possibly named pdn_cash_pay, and a new setl_id: the cancellation's
// own.
type CancelOutput struct {
	Setlinfo   SetlInfo              `json:"setlinfo"`
	Setldetail OneOrMany[SetlDetail] `json:"setldetail"`
	// Payresult is SANDBOX-ONLY and TEMPORARY.
	Payresult PayResult `json:"payresult"`
}

// 2601 reversal: no output; a reversal of a msgid the platform never had
// is a refusal whose message says so.

type ReverseInput struct {
	Data ReverseData `json:"data"`
}

type ReverseData struct {
	PsnNo  string `json:"psn_no"`
	Omsgid string `json:"omsgid"`
	Oinfno string `json:"oinfno"`
}

// ReverseOutput is empty: a success is the answer.
type ReverseOutput = NoOutput

package protocol

import "encoding/json"

// The inputs and outputs of the identification, registration and fee
// transactions, with the national interface's field names. Shapes follow
// the specification's tables (JX-SPEC: 江西省医疗保障定点医药机构接口规范,
// the national tables in a provincial copy; section numbers below) and
// what public HIS clients met in real answers; see the research notes on
// the national interface for each fact's source.

// 9001 sign-in (JX-SPEC §5.7.1.1).

type SignInInput struct {
	SignIn SignInData `json:"signIn"`
}

type SignInData struct {
	OpterNo string `json:"opter_no"`
	Mac     string `json:"mac"`
	IP      string `json:"ip"`
}

type SignInOutput struct {
	Signinoutb SignInResult `json:"signinoutb"`
}

// SignInResult: sign_no is opaque (a 32-hex string in the specification's
// sample, 8 digits in real Fujian traffic).
type SignInResult struct {
	SignNo   string `json:"sign_no"`
	SignTime string `json:"sign_time"`
}

// Certificate types (mdtrt_cert_type).
const (
	CertQR     = "01" // the national e-voucher's ecToken (or our signed QR code)
	CertIDNo   = "02"
	CertSSCard = "03"
)

// 1101 person info (JX-SPEC §5.1.1.1, 表5-8).

type PersonInfoInput struct {
	Data PersonQuery `json:"data"`
}

type PersonQuery struct {
	MdtrtCertType string `json:"mdtrt_cert_type"`
	MdtrtCertNo   string `json:"mdtrt_cert_no"`
	CardSn        string `json:"card_sn"`
	Begntime      string `json:"begntime"`
	PsnCertType   string `json:"psn_cert_type"`
	Certno        string `json:"certno"`
	PsnName       string `json:"psn_name"`
}

type PersonInfoOutput struct {
	Baseinfo BaseInfo            `json:"baseinfo"`
	Insuinfo OneOrMany[InsuInfo] `json:"insuinfo"`
	Idetinfo OneOrMany[IdetInfo] `json:"idetinfo"`
	// Payinfo is SANDBOX-ONLY and TEMPORARY: the old settlement core's
	// payment extension, until the payment channel is its own
	// counterparty. No real 1101 carries it.
	Payinfo PayInfo `json:"payinfo"`
}

// BaseInfo is the person. age is decimal (4,1) in the specification, an
// integer in Hunan answers, 38.0 in Hainan's.
type BaseInfo struct {
	PsnNo       string `json:"psn_no"`
	PsnCertType string `json:"psn_cert_type"`
	Certno      string `json:"certno"`
	PsnName     string `json:"psn_name"`
	Gend        string `json:"gend"`
	Naty        string `json:"naty,omitempty"`
	Brdy        string `json:"brdy"`
	Age         Age    `json:"age"`
}

// InsuInfo is one insurance the person holds: 1101 lists several.
type InsuInfo struct {
	Insutype      string `json:"insutype"`
	PsnType       string `json:"psn_type"`
	Balc          Amount `json:"balc"`
	InsuplcAdmdvs string `json:"insuplc_admdvs"`
	PsnInsuStas   string `json:"psn_insu_stas"` // "1" active, "4" suspended
	PsnInsuDate   string `json:"psn_insu_date,omitempty"`
	PausInsuDate  string `json:"paus_insu_date,omitempty"`
	CvlservFlag   string `json:"cvlserv_flag,omitempty"`
	EmpName       string `json:"emp_name,omitempty"`
}

// Insurance states (psn_insu_stas).
const (
	InsuActive    = "1"
	InsuSuspended = "4"
)

// IdetInfo is one of the person's identities (idetinfo: disabled, retired
// cadre, ...).
type IdetInfo struct {
	PsnIdetType string `json:"psn_idet_type"`
	PsnTypeLv   string `json:"psn_type_lv"`
	Memo        string `json:"memo"`
	Begntime    string `json:"begntime"`
	Endtime     string `json:"endtime"`
}

// Insurance types.
const (
	InsutypeEmployee = "310" // employee basic medical insurance, has a personal account
	InsutypeResident = "390" // urban-rural resident insurance, no personal account
)

// 2201 outpatient registration (JX-SPEC §5.2.3.1, 表76-77).

type RegisterInput struct {
	Data RegisterData `json:"data"`
}

type RegisterData struct {
	PsnNo         string `json:"psn_no"`
	Insutype      string `json:"insutype"`
	Begntime      string `json:"begntime"`
	MdtrtCertType string `json:"mdtrt_cert_type"`
	MdtrtCertNo   string `json:"mdtrt_cert_no"`
	IptOtpNo      string `json:"ipt_otp_no"`
	AtddrNo       string `json:"atddr_no"`
	DrName        string `json:"dr_name"`
	DeptCode      string `json:"dept_code"`
	DeptName      string `json:"dept_name"`
	Caty          string `json:"caty"` // the department's category (科别)
	CardSn        string `json:"card_sn"`
	PsnCertType   string `json:"psn_cert_type"`
	Certno        string `json:"certno"`
	PsnType       string `json:"psn_type"`
	PsnName       string `json:"psn_name"`
}

type RegisterOutput struct {
	Data RegisterResult `json:"data"`
}

// RegisterResult: the extension node is spelled expContent in the
// specification and exp_content in other clients; both are read.
type RegisterResult struct {
	MdtrtID    string `json:"mdtrt_id"`
	PsnNo      string `json:"psn_no"`
	IptOtpNo   string `json:"ipt_otp_no"`
	ExpContent string `json:"expContent,omitempty"`
}

// UnmarshalJSON reads expContent or exp_content.
func (r *RegisterResult) UnmarshalJSON(b []byte) error {
	type plain RegisterResult
	var v struct {
		plain
		Alt json.RawMessage `json:"exp_content"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = RegisterResult(v.plain)
	if r.ExpContent == "" && len(v.Alt) > 0 {
		r.ExpContent = looseText(v.Alt)
	}
	return nil
}

// 2202 registration cancel (JX-SPEC §5.2.3.2): no output.

type RegisterCancelInput struct {
	Data RegisterCancelData `json:"data"`
}

type RegisterCancelData struct {
	PsnNo    string `json:"psn_no"`
	MdtrtID  string `json:"mdtrt_id"`
	IptOtpNo string `json:"ipt_otp_no"`
}

// NoOutput is the output of a transaction whose success carries none
// (2202, 2205, 2601): output absent, null or {} all read as success.
type NoOutput struct{}

// Item classes (chrgitm_lv), as the platform's catalogue decides them.
const (
	ClassA = "01" // fully eligible
	ClassB = "02" // a share self-paid first, the rest eligible
	ClassC = "03" // fully self-paid
)

// 2204 fee detail upload (JX-SPEC §5.2.3.5, 表83-84).

type UploadFeesInput struct {
	Feedetail OneOrMany[FeeDetail] `json:"feedetail"`
}

// FeeDetail is one bill line. cnt has four decimals and pric six (yuan);
// det_item_fee_sumamt is cnt × pric rounded half up to the fen.
type FeeDetail struct {
	FeedetlSn        string `json:"feedetl_sn"`
	MdtrtID          string `json:"mdtrt_id"`
	PsnNo            string `json:"psn_no"`
	ChrgBchno        string `json:"chrg_bchno"`
	DiseCodg         string `json:"dise_codg"`
	Rxno             string `json:"rxno"`
	RxCircFlag       string `json:"rx_circ_flag"` // "1": a prescription bought outside
	FeeOcurTime      string `json:"fee_ocur_time"`
	MedListCodg      string `json:"med_list_codg"`
	MedinsListCodg   string `json:"medins_list_codg"`
	DetItemFeeSumamt Amount `json:"det_item_fee_sumamt"`
	Cnt              Cnt    `json:"cnt"`
	Pric             Pric   `json:"pric"`
	BilgDeptCodg     string `json:"bilg_dept_codg"`
	BilgDeptName     string `json:"bilg_dept_name"`
	BilgDrCodg       string `json:"bilg_dr_codg"`
	BilgDrName       string `json:"bilg_dr_name"`
	HospApprFlag     string `json:"hosp_appr_flag"` // 0, 1 or 2
	// ChrgitmLv is SANDBOX-ONLY and TEMPORARY: the old core sends the
	// HIS's class, which the sandbox uses for codes its catalogue lacks.
	// The real 2204 input has no class: the catalogue decides it and the
	// answer says it.
	ChrgitmLv string `json:"chrgitm_lv,omitempty"`
}

type UploadFeesOutput struct {
	Result OneOrMany[FeeResult] `json:"result"`
}

// FeeResult is the platform's reading of one line: its class and how much
// of it is self-paid.
type FeeResult struct {
	FeedetlSn        string `json:"feedetl_sn"`
	DetItemFeeSumamt Amount `json:"det_item_fee_sumamt"`
	Cnt              Cnt    `json:"cnt"`
	Pric             Pric   `json:"pric"`
	PricUplmtAmt     Pric   `json:"pric_uplmt_amt"`
	SelfpayProp      Ratio  `json:"selfpay_prop"`
	FulamtOwnpayAmt  Amount `json:"fulamt_ownpay_amt"`
	OverlmtAmt       Amount `json:"overlmt_amt"`
	PreselfpayAmt    Amount `json:"preselfpay_amt"`
	InscpScpAmt      Amount `json:"inscp_scp_amt"`
	ChrgitmLv        string `json:"chrgitm_lv"`
	MedChrgitmType   string `json:"med_chrgitm_type"`
	BasMednFlag      string `json:"bas_medn_flag"`
	HiNegoDrugFlag   string `json:"hi_nego_drug_flag"`
	ChldMedcFlag     string `json:"chld_medc_flag"`
	ListSpItemFlag   string `json:"list_sp_item_flag"`
	LmtUsedFlag      string `json:"lmt_used_flag"`
	DrtReimFlag      string `json:"drt_reim_flag"`
	Memo             string `json:"memo"`
}

// 2205 fee detail cancel (JX-SPEC §5.2.3.6): no output. chrg_bchno "0000"
// deletes every unsettled line of the visit.

type FeesCancelInput struct {
	Data FeesCancelData `json:"data"`
}

type FeesCancelData struct {
	MdtrtID   string `json:"mdtrt_id"`
	ChrgBchno string `json:"chrg_bchno"`
	PsnNo     string `json:"psn_no"`
}

// AllBatches is the chrg_bchno of 2205 that names every unsettled batch.
const AllBatches = "0000"

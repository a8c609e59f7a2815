package protocol

// Reconciliation and files: 3201 totals, 3202 detail through files
// uploaded with 9101 and downloaded with 9102 (JX-SPEC §5.3.2, §5.7.2).

// 3201 reconciliation totals (表161-162).

type ReconcileInput struct {
	Data ReconcileData `json:"data"`
}

type ReconcileData struct {
	Insutype         string `json:"insutype"`
	ClrType          string `json:"clr_type"`
	SetlOptins       string `json:"setl_optins"` // the clearing institution (region)
	StmtBegndate     string `json:"stmt_begndate"`
	StmtEnddate      string `json:"stmt_enddate"`
	MedfeeSumamt     Amount `json:"medfee_sumamt"`
	FundPaySumamt    Amount `json:"fund_pay_sumamt"`
	AcctPay          Amount `json:"acct_pay"`
	FixmedinsSetlCnt int64  `json:"fixmedins_setl_cnt"`
	RefdSetlFlag     string `json:"refd_setl_flag"` // "1": refunds included
	// DevNo is SANDBOX-ONLY and TEMPORARY: the old core reconciles one
	// terminal's settlements. A real platform compares the institution's.
	DevNo string `json:"dev_no,omitempty"`
}

type ReconcileOutput struct {
	Stmtinfo StmtInfo `json:"stmtinfo"`
}

type StmtInfo struct {
	SetlOptins   string `json:"setl_optins"`
	StmtRslt     string `json:"stmt_rslt"`
	StmtRsltDscr string `json:"stmt_rslt_dscr"`
}

// Reconciliation results (stmt_rslt, dict 6.11).
const (
	StmtBalanced        = "0" // 平
	StmtPlatformMore    = "1" // 中心多
	StmtInstitutionMore = "2" // 医药机构多
	StmtMismatch        = "3" // 数据不一致
)

// 3202 reconciliation detail (表163-166): the detail travels as a file
// uploaded with 9101, named by its file_qury_no; the verdict is a file
// to download with 9102.

type ReconcileDetailInput struct {
	Data ReconcileDetailQuery `json:"data"`
	// Detail is SANDBOX-ONLY and TEMPORARY: the old core's inline detail,
	// answered with Diffs. A real 3202 names an uploaded file.
	Detail []ReconcileItem `json:"detail,omitempty"`
}

type ReconcileDetailQuery struct {
	SetlOptins       string `json:"setl_optins"`
	FileQuryNo       string `json:"file_qury_no"`
	StmtBegndate     string `json:"stmt_begndate"`
	StmtEnddate      string `json:"stmt_enddate"`
	MedfeeSumamt     Amount `json:"medfee_sumamt"`
	FundPaySumamt    Amount `json:"fund_pay_sumamt"`
	CashPayamt       Amount `json:"cash_payamt"`
	FixmedinsSetlCnt int64  `json:"fixmedins_setl_cnt"`
	ClrType          string `json:"clr_type"`
	RefdSetlFlag     string `json:"refd_setl_flag"`
	// DevNo and Insutype are SANDBOX-ONLY and TEMPORARY, for the old
	// core's inline detail.
	DevNo    string `json:"dev_no,omitempty"`
	Insutype string `json:"insutype,omitempty"`
}

type ReconcileDetailOutput struct {
	Fileinfo FileInfo `json:"fileinfo"`
	// Diffs is SANDBOX-ONLY and TEMPORARY: the answer to an inline Detail.
	Diffs []ReconcileDiff `json:"diffs,omitempty"`
}

// FileInfo names a file to download with 9102.
type FileInfo struct {
	FileQuryNo string `json:"file_qury_no"`
	Filename   string `json:"filename"`
	DldEndtime string `json:"dld_endtime"`
}

// ReconcileItem is one settlement of the old core's inline detail
// (SANDBOX-ONLY and TEMPORARY). Msgid is the 2207 msgid.
type ReconcileItem struct {
	Msgid         string `json:"msgid"`
	SetlID        string `json:"setl_id"`
	MedfeeSumamt  Amount `json:"medfee_sumamt"`
	FundPaySumamt Amount `json:"fund_pay_sumamt"`
	AcctPay       Amount `json:"acct_pay"`
	PsnCashPay    Amount `json:"psn_cash_pay"`
}

// Difference kinds of the inline detail (SANDBOX-ONLY and TEMPORARY).
const (
	DiffMissingLocal    = "missing_local"    // the platform has it, the terminal did not list it
	DiffMissingPlatform = "missing_platform" // the terminal listed it, the platform has no active settlement
	DiffAmountMismatch  = "amount_mismatch"
)

// ReconcileDiff is one difference of the inline detail (SANDBOX-ONLY and
// TEMPORARY).
type ReconcileDiff struct {
	Kind     string         `json:"kind"`
	Msgid    string         `json:"msgid"`
	SetlID   string         `json:"setl_id"`
	Platform *ReconcileItem `json:"platform,omitempty"`
	Local    *ReconcileItem `json:"local,omitempty"`
}

// 9101 file upload (§5.7.2.1): the file's bytes travel in the JSON
// envelope, base64 (as Newtonsoft writes a byte[]: NYB-JX); the answer's
// fields sit directly in output.

type FileUploadInput struct {
	FsUploadIn UploadedFile `json:"fsUploadIn"`
}

type UploadedFile struct {
	In            []byte `json:"in"`
	Filename      string `json:"filename"`
	FixmedinsCode string `json:"fixmedins_code"`
}

type FileUploadOutput struct {
	FileQuryNo    string `json:"file_qury_no"`
	Filename      string `json:"filename"`
	FixmedinsCode string `json:"fixmedins_code"`
	DldEndtime    string `json:"dld_endtime"`
}

// 9102 file download (§5.7.2.2): a success is the file itself
// (Content-Type application/octet-stream); a failure is an envelope.

type FileDownloadInput struct {
	FsDownloadIn FileQuery `json:"fsDownloadIn"`
}

type FileQuery struct {
	FileQuryNo    string `json:"file_qury_no"`
	Filename      string `json:"filename"`
	FixmedinsCode string `json:"fixmedins_code"`
}

// FileContentType marks a 9102 answer that is the file.
const FileContentType = "application/octet-stream"

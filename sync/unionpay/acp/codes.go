package acp

// Answer codes (respCode, origRespCode). The values and meanings are ACP's
// published table as merchants copy it into their code (a Java copy in a
// public repository, index id 18311612538 of the research corpus; the
// demos' own handling is in the research notes §12.2 and §12.3). The
// channel uses them for the rules below; package unionpay maps them to the
// agent's reasons.
const (
	CodeOK = "00" // 成功
	// CodeDefectiveOK and CodeDefectiveOK2 are successes with a defect
	// (有缺陷的成功): the money moved. The table has A1; merchant code seen
	// in the corpus treats A6 as success (index id 21373971306).
	CodeDefectiveOK  = "A1"
	CodeDefectiveOK2 = "A6"

	CodeFailed     = "01" // 交易失败
	CodeClosed     = "02" // 系统未开放或暂时关闭
	CodeTimeout    = "03" // 交易通讯超时，请发起查询交易
	CodeUnknown    = "04" // 交易状态未明，请查询对账结果
	CodeAccepted   = "05" // 交易已受理，请稍后查询交易结果
	CodeBusy       = "06" // 系统繁忙
	CodeFormat     = "10" // 报文格式错误
	CodeSignature  = "11" // 验证签名失败
	CodeDuplicate  = "12" // 重复交易
	CodeMissing    = "13" // 报文交易要素缺失
	CodeNoRight    = "32" // 无此交易权限
	CodeAmountOver = "33" // 交易金额超限
	CodeNoSuchTxn  = "34" // 查无此交易
	CodeOrigState  = "35" // 原交易不存在或状态不正确
	CodeOrigDiffer = "36" // 与原交易信息不符
	CodeOutOfTime  = "39" // 交易不在受理时间范围内
	CodeNoBinding  = "40" // 绑定关系检查失败
	CodeReversed   = "45" // 原交易已被成功退货或已被成功撤销
	CodeBadCardNo  = "61" // 输入的卡号无效
	CodeCardState  = "63" // 卡状态不正确
	CodeNoBalance  = "64" // 卡上的余额不足
	CodeIdentity   = "66" // 持卡人身份信息或手机号输入不正确
	CodeNotSigned  = "72" // 尚未签约加办银联无卡支付业务
	CodeExpired    = "73" // 支付卡已超过有效期
	CodeRestricted = "78" // 发卡行交易权限受限
	CodeTokenGone  = "80" // 交易失败，Token 已过期
	// CodeCumulative is 月累计交易笔数(金额)超限 in the table, a cumulative
	// limit; the channel uses it for the agreement's daily limit.
	CodeCumulative = "81"
	// CodeNeedPassword is 需要校验密码: the payment is not password-free.
	// The channel answers it to a confirm-first family bill that was not
	// confirmed.
	CodeNeedPassword = "82"
	CodeIssuerBusy   = "83" // 发卡行（渠道）处理中
	CodeNoPassword   = "84" // 需要密码但未上送
	CodeAcctBalance  = "90" // 账户余额不足
	CodeNoFile       = "98" // 文件不存在
	CodeGeneral      = "99" // 通用错误
)

// Messages are the table's words for the codes the sandbox channel
// answers, so its answers read like a real channel's.
var Messages = map[string]string{
	CodeOK:           "成功[0000000]",
	CodeFailed:       "交易失败",
	CodeTimeout:      "交易通讯超时，请发起查询交易",
	CodeUnknown:      "交易状态未明，请查询对账结果",
	CodeAccepted:     "交易已受理，请稍后查询交易结果",
	CodeFormat:       "报文格式错误",
	CodeSignature:    "验证签名失败",
	CodeDuplicate:    "重复交易",
	CodeMissing:      "报文交易要素缺失",
	CodeNoRight:      "无此交易权限",
	CodeAmountOver:   "交易金额超限",
	CodeNoSuchTxn:    "查无此交易",
	CodeOrigState:    "原交易不存在或状态不正确",
	CodeOrigDiffer:   "与原交易信息不符",
	CodeOutOfTime:    "交易不在受理时间范围内",
	CodeNoBinding:    "绑定关系检查失败",
	CodeReversed:     "原交易已被成功退货或已被成功撤销",
	CodeBadCardNo:    "输入的卡号无效，请确认后输入",
	CodeCardState:    "卡状态不正确",
	CodeNoBalance:    "卡上的余额不足",
	CodeIdentity:     "持卡人身份信息或手机号输入不正确，验证失败",
	CodeRestricted:   "发卡行交易权限受限，详情请咨询您的发卡行",
	CodeCumulative:   "累计交易金额超限",
	CodeNeedPassword: "需要校验密码",
	CodeNoFile:       "文件不存在",
	CodeGeneral:      "通用错误",
}

// Message is the table's words for code, or the general error's.
func Message(code string) string {
	if m, ok := Messages[code]; ok {
		return m
	}
	return Messages[CodeGeneral]
}

// Pending reports whether code says the outcome is not known yet: the
// order must be queried (03, 04, 05 in the demos; 83, the issuer still
// processing, is treated the same, since it cannot be a final answer).
func Pending(code string) bool {
	switch code {
	case CodeTimeout, CodeUnknown, CodeAccepted, CodeIssuerBusy:
		return true
	}
	return false
}

// Success reports whether code says the transaction succeeded.
func Success(code string) bool {
	return code == CodeOK || code == CodeDefectiveOK || code == CodeDefectiveOK2
}

// AtTheDoor reports whether code refuses a request before the channel
// looked at its business: closed, busy, malformed, badly signed, incomplete.
// After an earlier attempt of the same order may have been processed, such
// a refusal of a resend says nothing about that earlier attempt.
func AtTheDoor(code string) bool {
	switch code {
	case CodeClosed, CodeBusy, CodeFormat, CodeSignature, CodeMissing:
		return true
	}
	return false
}

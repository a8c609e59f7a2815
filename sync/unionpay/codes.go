package unionpay

import (
	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// refusalReasons maps the answer codes that refuse a payment to the
// agent's reasons. A code not listed is a refusal with ReasonOther: an
// unknown code is never read as a success.
var refusalReasons = map[string]string{
	acp.CodeAmountOver: agent.ReasonLimitPerPayment, // 33 交易金额超限
	acp.CodeCumulative: agent.ReasonLimitDaily,      // 81 累计交易金额超限

	acp.CodeNoBalance:   agent.ReasonInsufficient, // 64 卡上的余额不足
	acp.CodeAcctBalance: agent.ReasonInsufficient, // 90 账户余额不足

	acp.CodeNeedPassword: agent.ReasonConfirmRequired, // 82 需要校验密码
	acp.CodeNoPassword:   agent.ReasonConfirmRequired, // 84 需要密码但未上送

	acp.CodeNoBinding: agent.ReasonNoAgreement, // 40 绑定关系检查失败
	acp.CodeNotSigned: agent.ReasonNoAgreement, // 72 尚未签约

	acp.CodeBadCardNo:  agent.ReasonSourceInvalid, // 61 卡号无效
	"62":               agent.ReasonSourceInvalid, // 62 发卡银行不支持该商户
	acp.CodeCardState:  agent.ReasonSourceInvalid, // 63 卡状态不正确 (frozen, cancelled)
	acp.CodeExpired:    agent.ReasonSourceInvalid, // 73 支付卡已超过有效期
	acp.CodeRestricted: agent.ReasonSourceInvalid, // 78 发卡行交易权限受限 (a credit line closed by age)
	acp.CodeTokenGone:  agent.ReasonSourceInvalid, // 80 Token 已过期

	acp.CodeNoSuchTxn: agent.ReasonNotFound, // 34 查无此交易
}

// reasonOf is the refusal reason of code.
func reasonOf(code string) string {
	if r, ok := refusalReasons[code]; ok {
		return r
	}
	return agent.ReasonOther
}

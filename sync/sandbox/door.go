package sandbox

import (
	"crypto/ecdsa"
	"fmt"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"

	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/transport"
)

// The gateway in front of the platform: it checks each request by the
// configured transport profile and answers a refusal outside the envelope,
// as the national platform's gateways do ({"code":401,"message":…}), so
// that an agent meets here what it meets in a province.

// OAuthSMOptions configure the oauth_sm profile of the gateway.
type OAuthSMOptions struct {
	ClientID, ClientSecret string
	// Users are the gateway's accounts: each belongs to one institution.
	Users map[string]OAuthUser
	// Keys are each institution's SM4 key and SM2 public key, by
	// institution code.
	Keys map[string]OAuthKeys
	// PlatformKey signs the answers' output.
	PlatformKey *sm2.PrivateKey
	TokenTTL    time.Duration
}

// OAuthUser is one account of the token endpoint.
type OAuthUser struct {
	Password    string
	Institution string
}

// OAuthKeys are an institution's keys under oauth_sm.
type OAuthKeys struct {
	SM4         []byte
	Institution *ecdsa.PublicKey
}

// doorPass is what the door let through: the envelope (its input in
// clear) and who sent it.
type doorPass struct {
	env         protocol.Request
	institution string // the institution the credentials name ("" under none)
	nonce       string // the tif nonce to use up
	sm4         []byte // the key to seal the answer with (oauth_sm)
	bad         string // a body that is not an envelope: refused in one
}

// door checks the request at the gateway. A refusal is the gateway's own
// answer; a body that is not an envelope passes with bad set, to be
// refused by the platform in an envelope.
func (p *Platform) door(in incoming) (doorPass, *transport.GatewayRefusal) {
	var d doorPass
	switch p.auth {
	case transport.AuthTif:
		v := transport.TifVerifier{Window: p.tifWindow, Token: func(paas string) (string, bool) {
			s, ok := p.secrets[paas]
			return string(s), ok
		}}
		req, err := v.Verify(in.header, in.received)
		if err != nil {
			return d, gatewayRefusal(err)
		}
		d.institution, d.nonce = req.PaasID, req.Nonce
	case transport.AuthOAuthSM:
		user, err := p.oauth.Verify(in.header)
		if err != nil {
			return d, gatewayRefusal(err)
		}
		d.institution = p.oauthOpts.Users[user].Institution
	}
	if err := protocol.DecodeLenient(strings.NewReader(string(in.body)), &d.env); err != nil {
		d.bad = "body is not a JSON envelope: " + err.Error()
		return d, nil
	}
	if d.institution != "" && d.env.FixmedinsCode != d.institution {
		return d, &transport.RefuseUnknownUser
	}
	if p.auth == transport.AuthOAuthSM {
		keys, ok := p.oauthOpts.Keys[d.institution]
		if !ok {
			return d, &transport.RefuseUnknownUser
		}
		if err := transport.OpenRequest(&d.env, keys.SM4, keys.Institution); err != nil {
			return d, &transport.RefuseSignature
		}
		d.sm4 = keys.SM4
	}
	return d, nil
}

func gatewayRefusal(err error) *transport.GatewayRefusal {
	if g, ok := err.(transport.GatewayRefusal); ok {
		return &g
	}
	return &transport.RefuseSignature
}

// seal protects a success's output under oauth_sm.
func (p *Platform) seal(d doorPass, out outcome) outcome {
	if d.sm4 == nil || out.gateway != nil || out.file != nil {
		return out
	}
	if err := transport.SealAnswer(&out.resp, d.sm4, p.oauthOpts.PlatformKey); err != nil {
		p.log.Error("sealing an answer failed", "err", err)
		return outcome{status: 500, resp: p.doorAnswer(protocol.CodeInternal, "internal error sealing the answer")}
	}
	return out
}

// zhReasons are the Chinese words each refusal's err_msg starts with, as a
// real platform's would, so that an agent classifies the sandbox's
// failures by the same err_msg patterns as a province's. The English after
// them is the sandbox's own detail.
var zhReasons = map[string]string{
	protocol.CodeSignExpired:        "签到信息已失效，请重新签到",
	protocol.CodeBadRequest:         "参数校验失败",
	protocol.CodeUnknownTx:          "交易编号不存在",
	protocol.CodeMsgidConflict:      "报文ID重复且请求内容不同",
	protocol.CodeDuplicate:          "重复交易",
	protocol.CodeNotFound:           "记录不存在",
	protocol.CodeNotInsured:         "参保状态异常，不能享受待遇",
	protocol.CodeInsufficientFunds:  "余额不足",
	protocol.CodeAlreadyRefunded:    "该结算已撤销",
	protocol.CodeBalanceMismatch:    "金额校验不通过",
	protocol.CodeCredentialExpired:  "电子凭证已过期，请刷新二维码",
	protocol.CodeCredentialReplayed: "电子凭证二维码已使用，请刷新二维码",
	protocol.CodeCredentialInvalid:  "电子凭证无效",
	protocol.CodeCredentialRevoked:  "电子凭证已注销",
	protocol.CodeCardInvalid:        "社保卡状态异常",
	protocol.CodeReversed:           "该报文已冲正，不再受理",
	protocol.CodeInternal:           "系统内部错误，请求未处理，请稍后重试",
}

// errMsg is a refusal's err_msg: the Chinese reason, the detail, and a
// "(traceid@ip)" suffix as the national platform's gateways append.
func errMsg(code, detail string, now time.Time) string {
	zh, ok := zhReasons[code]
	if !ok {
		zh = "交易失败"
	}
	sum := sm3.Sum([]byte(fmt.Sprint(code, detail, now.UnixNano())))
	return fmt.Sprintf("%s: %s(%x@127.0.0.1)", zh, detail, sum[:16])
}

// Package transport is how a request passes a gateway's door: the
// authentication profiles of the national interface's gateways, as
// configuration names them.
//
//   - tif: the national platform's gateway (most provinces). One URL, the
//     infno in the body, and headers x-tif-paasid, x-tif-timestamp (Unix
//     seconds), x-tif-nonce (random, single use) and x-tif-signature, the
//     lowercase hex SHA-256 of timestamp+token+nonce+timestamp. The body
//     is not signed.
//   - oauth_sm: an OAuth2 token (password grant, Basic client
//     credentials) sent as a Bearer token; in the envelope cainfo is the
//     base64 SM2-with-SM3 signature of the plaintext input, signtype SM2,
//     enc_type SM4, and input and output travel as base64 SM4 ciphertext.
//   - none: the hospital's own front-end machine on its LAN.
//
// Each profile has both sides: the client's (Profile) and the verifier a
// gateway runs, which the sandbox uses to check requests the way a real
// gateway would, with the gateway's own answers outside the envelope.
package transport

import (
	"context"
	"net/http"

	"github.com/seed-a859fada/medterm/sync/protocol"
)

// Auth names a profile in configuration.
const (
	AuthTif     = "tif"
	AuthOAuthSM = "oauth_sm"
	AuthNone    = "none"
)

// Profile protects requests and opens answers for one gateway. The client
// calls Seal and Authorize on every attempt, so a resent request carries a
// fresh nonce, timestamp and signature under the same msgid.
type Profile interface {
	// Name is the profile's auth name.
	Name() string
	// Seal prepares the envelope for the wire: it sets signtype, cainfo
	// and enc_type and may replace input by its ciphertext.
	Seal(env *protocol.Request) error
	// Authorize sets the headers of one attempt.
	Authorize(ctx context.Context, r *http.Request) error
	// Open undoes Seal on an answer: it decrypts the output and checks
	// its signature.
	Open(resp *protocol.Response) error
	// Reject tells the profile that the gateway refused its credentials at
	// the door, so that the next attempt draws new ones.
	Reject()
}

// None is the profile of a front-end machine: no authentication.
type None struct{}

func (None) Name() string { return AuthNone }
func (None) Seal(env *protocol.Request) error {
	env.Signtype, env.Cainfo, env.EncType = "", "", ""
	return nil
}
func (None) Authorize(context.Context, *http.Request) error { return nil }
func (None) Open(*protocol.Response) error                  { return nil }
func (None) Reject()                                        {}

// GatewayRefusal is a gateway's own answer at the door, outside the
// envelope, as HN-SPEC's 服务网关调用说明 lists them.
type GatewayRefusal struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// The gateway's refusals.
var (
	RefuseMissingHeaders = GatewayRefusal{401, "缺少服务网关的请求头!"}
	RefuseStale          = GatewayRefusal{401, "签名时间戳超时!"}
	RefuseUnknownUser    = GatewayRefusal{401, "非法用户!"}
	RefuseSignature      = GatewayRefusal{401, "签名不一致!"}
	// RefuseReplay is not in HN-SPEC's list (no public source shows a
	// replay refusal); worded in its style.
	RefuseReplay = GatewayRefusal{401, "nonce已使用，请求重放!"}
	RefuseToken  = GatewayRefusal{401, "令牌无效或已过期!"}
)

func (g GatewayRefusal) Error() string { return g.Message }

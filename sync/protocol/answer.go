package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Infcode is the answer's result code. The specification types it as a
// number, and most gateways send one, but some (Hainan) send a string,
// "0": both are read. Only 0 is success, and only with an empty err_msg.
type Infcode int

// UnmarshalJSON reads a number or a string holding one.
func (c *Infcode) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal([]byte(s), &s); err != nil {
			return fmt.Errorf("%w: infcode %s", ErrMalformed, b)
		}
		s = strings.TrimSpace(s)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%w: infcode %s is not a number", ErrMalformed, b)
	}
	*c = Infcode(n)
	return nil
}

// Response is the envelope of every answer. Every field but infcode may
// be missing, null or "" in a real answer; real gateways add their own
// fields (appname, mid, message), which are ignored.
type Response struct {
	Infcode     Infcode `json:"infcode"`
	InfRefmsgid string  `json:"inf_refmsgid"`
	RefmsgTime  string  `json:"refmsg_time"`
	RespondTime string  `json:"respond_time"`
	ErrMsg      string  `json:"err_msg"`
	WarnMsg     string  `json:"warn_msg,omitempty"`
	// Cainfo, Signtype and EncType protect the output under the oauth_sm
	// profile (package transport); empty otherwise.
	Cainfo   string `json:"cainfo,omitempty"`
	Signtype string `json:"signtype,omitempty"`
	EncType  string `json:"enc_type,omitempty"`
	// ErrCode is SANDBOX-ONLY and TEMPORARY: a machine-readable reason the
	// sandbox adds for the old settlement core, which still branches on
	// it. No real gateway sends it; nothing new may read it, and it goes
	// once the core speaks agent.Insurance.
	ErrCode string          `json:"err_code,omitempty"`
	Output  json.RawMessage `json:"output,omitempty"`
}

// Infcode values.
const (
	InfcodeOK   = 0
	InfcodeFail = -1
)

// OK reports whether the answer is a success: infcode 0 and no err_msg.
// Hunan answers some failures with infcode 0 and the reason in err_msg
// ("FSI-文件查询号不能为空[fileBO_156]"), so an err_msg is never ignored.
func (r *Response) OK() bool {
	return r.Infcode == InfcodeOK && strings.TrimSpace(r.ErrMsg) == ""
}

// GatewayError is an answer outside the envelope: a gateway's own refusal
// ({"code":401,"message":"签名不一致!"}) or a service's
// {"code","message","success"}. It is never a success, whatever its code
// or success field says.
type GatewayError struct {
	Status  int // the HTTP status it came with
	Code    string
	Message string
}

func (e *GatewayError) Error() string {
	return fmt.Sprintf("gateway answered outside the envelope (HTTP %d, code %s): %s", e.Status, e.Code, e.Message)
}

// AtDoor reports whether the gateway refused the request before any
// service saw it: an authentication refusal (401, 403), which a fresh
// signature or token may pass. Any other body outside the envelope comes
// from somewhere behind the door and proves nothing about the request.
func (e *GatewayError) AtDoor() bool {
	switch e.Code {
	case "401", "403":
		return true
	}
	return e.Status == 401 || e.Status == 403
}

// ParseAnswer reads an answer body. It returns the envelope, or a
// *GatewayError for a JSON object without infcode, or an error wrapping
// ErrMalformed for anything that is not a JSON object.
func ParseAnswer(status int, body []byte) (*Response, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil || keys == nil {
		return nil, fmt.Errorf("%w: answer is not a JSON object", ErrMalformed)
	}
	if _, ok := keys["infcode"]; !ok {
		g := &GatewayError{Status: status}
		g.Code = looseText(keys["code"])
		g.Message = looseText(keys["message"])
		if g.Message == "" {
			g.Message = looseText(keys["msg"])
		}
		return nil, g
	}
	var r Response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	if out := bytes.TrimSpace(r.Output); string(out) == "null" || len(out) == 0 {
		r.Output = nil
	}
	return &r, nil
}

// looseText reads a JSON string or number as text; anything else is "".
func looseText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// traceSuffix is the "(traceid@ip)" gateways append to err_msg: a 32-hex
// trace id and the answering server's address.
var traceSuffix = regexp.MustCompile(`\s*[(（]([0-9A-Za-z-]{8,64})@([0-9A-Za-z.:\-]+)[)）]\s*$`)

// SplitTrace splits err_msg into the platform's own words and the trace id
// and host of its "(traceid@ip)" suffix, when it has one.
func SplitTrace(msg string) (text, traceID, host string) {
	msg = strings.TrimSpace(msg)
	m := traceSuffix.FindStringSubmatchIndex(msg)
	if m == nil {
		return msg, "", ""
	}
	return strings.TrimSpace(msg[:m[0]]), msg[m[2]:m[3]], msg[m[4]:m[5]]
}

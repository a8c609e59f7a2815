// Package protocol is the wire contract of the national medical-insurance
// interface (国家医保信息平台 定点医药机构接口规范) as real provincial
// gateways speak it: the request and answer envelopes, one typed entry per
// transaction, the value types that read what gateways really send
// (numbers as strings, "" and null amounts, decimal ages, a row node as an
// object or an array), the classification of failures by infcode and
// err_msg, the 3202 reconciliation files and the msgid format. The agent's
// client, the insurance adapter and the sandbox platform all use it, so
// they cannot drift apart. How a request is authenticated is not here: it
// is a transport profile (package transport).
package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// China Standard Time, fixed: the platform's clocks are in CST and a
// terminal must format times the same way whatever its own zone or tzdata.
var CST = time.FixedZone("CST", 8*3600)

// Time layouts used on the wire.
const (
	InfTimeLayout   = "2006-01-02 15:04:05"
	DateLayout      = "2006-01-02"
	msgidTimeLayout = "20060102150405"
)

// Version is the interface version sent in every request.
const Version = "V1.0"

// Operator types (opter_type).
const (
	OpterClerk  = "1"
	OpterKiosk  = "2"
	OpterMobile = "3"
)

// Request is the envelope of every request. Input carries the
// transaction's own fields and is decoded by the transaction's entry.
type Request struct {
	Infno          string `json:"infno"`
	Msgid          string `json:"msgid"`
	MdtrtareaAdmvs string `json:"mdtrtarea_admvs"`
	InsuplcAdmdvs  string `json:"insuplc_admdvs"`
	RecerSysCode   string `json:"recer_sys_code"`
	DevNo          string `json:"dev_no"`
	DevSafeInfo    string `json:"dev_safe_info"`
	Cainfo         string `json:"cainfo"`
	Signtype       string `json:"signtype"`
	Infver         string `json:"infver"`
	OpterType      string `json:"opter_type"`
	Opter          string `json:"opter"`
	OpterName      string `json:"opter_name"`
	InfTime        string `json:"inf_time"`
	FixmedinsCode  string `json:"fixmedins_code"`
	FixmedinsName  string `json:"fixmedins_name"`
	SignNo         string `json:"sign_no"`
	// EncType is "SM4" when input (and the answer's output) travel
	// encrypted under the oauth_sm profile, empty otherwise; Input is then
	// a JSON string of base64 ciphertext.
	EncType string          `json:"enc_type,omitempty"`
	Input   json.RawMessage `json:"input"`
}

// MaxBody bounds every request and response body. The largest legitimate
// message, a fee upload of a long prescription, is far below it.
const MaxBody = 1 << 20

// DecodeStrict decodes one JSON value into v, rejecting unknown fields,
// trailing data and bodies over MaxBody. The sandbox decodes requests this
// way; the agent decodes the platform's answers leniently (a real gateway
// adds fields) but amounts are always strict.
func DecodeStrict(r io.Reader, v any) error {
	return decode(r, v, true)
}

// DecodeLenient is DecodeStrict without the unknown-field check.
func DecodeLenient(r io.Reader, v any) error {
	return decode(r, v, false)
}

func decode(r io.Reader, v any, strict bool) error {
	data, err := io.ReadAll(io.LimitReader(r, MaxBody+1))
	if err != nil {
		return fmt.Errorf("%w: read: %v", ErrMalformed, err)
	}
	if len(data) > MaxBody {
		return fmt.Errorf("%w: body over %d bytes", ErrMalformed, MaxBody)
	}
	return unmarshal(data, v, strict)
}

func unmarshal(data []byte, v any, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON value", ErrMalformed)
	}
	return nil
}

// FormatInfTime formats t as inf_time in CST.
func FormatInfTime(t time.Time) string { return t.In(CST).Format(InfTimeLayout) }

// FormatRespondTime formats t as respond_time, yyyyMMddHHmmssSSS in CST.
func FormatRespondTime(t time.Time) string {
	t = t.In(CST)
	return t.Format(msgidTimeLayout) + fmt.Sprintf("%03d", t.Nanosecond()/int(time.Millisecond))
}

// FormatDate formats t as a date in CST.
func FormatDate(t time.Time) string { return t.In(CST).Format(DateLayout) }

// ParseDate parses a yyyy-MM-dd date in CST.
func ParseDate(s string) (time.Time, error) {
	t, err := time.ParseInLocation(DateLayout, s, CST)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: date %q", ErrMalformed, s)
	}
	return t, nil
}

// PeekInfno is the infno of a request body, for logs and fault handlers
// that route by transaction (the gateway's one URL does not say it); ""
// when the body names none.
func PeekInfno(body []byte) string {
	var probe struct {
		Infno string `json:"infno"`
	}
	_ = json.Unmarshal(body, &probe)
	return probe.Infno
}

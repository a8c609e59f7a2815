package credential

import "errors"

// Rejection is why a code of ours was refused, with what the patient can do
// about it. The sentinels below are its only values; compare with
// errors.Is, read the message with Explain.
type Rejection struct {
	// Reason is stable and machine-readable, for metrics and the API.
	Reason string
	// Detail says what failed, in English, for logs; it holds no personal
	// data.
	Detail string
	// ZH and EN are shown to the patient: what to do next.
	ZH, EN string
}

func (r *Rejection) Error() string { return r.Detail }

func reject(reason, detail, zh, en string) *Rejection {
	return &Rejection{Reason: reason, Detail: detail, ZH: zh, EN: en}
}

// Messages shared by several reasons: the patient's next step is the same.
const (
	zhRefresh = "请在手机上刷新医保码后重新出示"
	enRefresh = "please refresh the code on your phone and show it again"
	zhRenew   = "医保码已失效，请在医保App中更新后再出示"
	enRenew   = "your insurance code is no longer valid; please renew it in the insurance app"
	zhWindow  = "本机无法核验此医保码，请到人工窗口办理"
	enWindow  = "this terminal cannot accept this code; please go to the service window"
)

// The verifier's rejections, in the order the checks run (see FORMAT.md).
var (
	// ErrOpaque is not a rejection: the text is not one of our codes (no
	// prefix), so it can only be resolved by the platform, online.
	ErrOpaque = errors.New("not a signed credential code")

	ErrMalformed = reject("MALFORMED", "code is unreadable: damaged text or wrong length",
		"未能读取医保码，请重新出示", "the code could not be read; please show it again")
	ErrUnsupportedVersion = reject("UNSUPPORTED_VERSION", "code or certificate format version not supported",
		zhWindow, enWindow)
	ErrUnknownIssuer = reject("UNKNOWN_ISSUER", "issuer key id not in the trust list",
		zhWindow, enWindow)
	ErrAlgorithmMismatch = reject("ALGORITHM_MISMATCH", "certificate algorithm differs from its issuer key's",
		zhRenew, enRenew)
	ErrCertificateSignature = reject("BAD_CERTIFICATE_SIGNATURE", "certificate signature does not verify",
		zhRenew, enRenew)
	ErrCertificateNotYetValid = reject("CERTIFICATE_NOT_YET_VALID", "certificate validity has not started",
		"医保码尚未生效，请检查手机日期或稍后再试", "your insurance code is not valid yet; check your phone's date or try later")
	ErrCertificateExpired = reject("CERTIFICATE_EXPIRED", "certificate has expired",
		zhRenew, enRenew)
	ErrIssuerKeyValidity = reject("ISSUER_KEY_NOT_VALID", "issuer key is outside its validity period",
		zhRenew, enRenew)
	ErrCodeSignature = reject("BAD_CODE_SIGNATURE", "code signature does not verify",
		zhRefresh, enRefresh)
	ErrCodeFuture = reject("CODE_FROM_FUTURE", "code time is ahead of the terminal beyond the allowed skew",
		"手机时间不准，请校准手机时间后刷新医保码", "your phone's clock is ahead; please set its time and refresh the code")
	ErrCodeExpired = reject("CODE_EXPIRED", "code is older than its lifetime",
		zhRefresh, enRefresh)
	ErrRevoked = reject("REVOKED", "certificate serial is revoked",
		"此医保码已停用，请到人工窗口办理", "this insurance code has been withdrawn; please go to the service window")
	// ErrReplayed is also what a CounterStore answers for a counter not
	// above the highest it has seen.
	ErrReplayed = reject("REPLAYED", "code counter already seen for this credential",
		"此码已使用过，请在手机上刷新医保码", "this code was already used; please refresh the code on your phone")
)

// Errors of the trust list and of issuing; they are the platform's or the
// sandbox's, never shown to a patient.
var (
	ErrTrustList = errors.New("invalid trust list")
	// ErrTrustListRollback is a trust list older than the one in use.
	ErrTrustListRollback = errors.New("trust list version is older than the one in use")
	ErrKey               = errors.New("invalid key")
	ErrIssue             = errors.New("cannot issue certificate")
)

// Rejections lists every rejection the verifier makes.
func Rejections() []*Rejection {
	return []*Rejection{
		ErrMalformed, ErrUnsupportedVersion, ErrUnknownIssuer, ErrAlgorithmMismatch, ErrCertificateSignature,
		ErrCertificateNotYetValid, ErrCertificateExpired, ErrIssuerKeyValidity, ErrCodeSignature, ErrCodeFuture,
		ErrCodeExpired, ErrRevoked, ErrReplayed,
	}
}

// Explain returns the rejection behind err, if any, so that a kiosk shows
// its ZH and EN messages; ok is false for ErrOpaque and for failures of the
// terminal itself (a counter store that cannot write).
func Explain(err error) (r *Rejection, ok bool) {
	ok = errors.As(err, &r)
	return r, ok
}

package agent

import (
	"errors"
	"fmt"
	"strings"
)

// Refused is a request the core refuses for a reason the caller branches
// on and a patient or cashier reads: a stable Code (CARD_EXPIRED,
// CODE_REPLAYED, …) and what to do, in Chinese and in English. It wraps
// the sentinel (ErrInvalid, ErrConflict, …) that decides the status, and
// the detailed error an operator reads in the log.
type Refused struct {
	Code string
	ZH   string
	EN   string
	err  error
}

func (r *Refused) Error() string { return r.Code + ": " + r.err.Error() }
func (r *Refused) Unwrap() error { return r.err }

// Codes of the refusals of identity: the card at the desk and the code at
// the kiosk. A code the platform's credential refused is CODE_ followed by
// its reason (CODE_REPLAYED, CODE_EXPIRED, CODE_REVOKED, …).
const (
	RefuseNoCard         = "NO_CARD"
	RefuseCardExpired    = "CARD_EXPIRED"
	RefuseCardUnreadable = "CARD_UNREADABLE"
	RefuseUnknownReader  = "UNKNOWN_READER"
	RefuseNoReader       = "NO_CARD_READER"
	RefuseNoScanner      = "NO_SCANNER"
	RefuseNoScan         = "NO_SCAN"
	RefuseScanUsed       = "CODE_USED"
	// RefuseCodeUnresolved: who showed the code could not be asked of the
	// e-voucher component or the platform (offline, or it answered no one).
	RefuseCodeUnresolved = "CODE_UNRESOLVED"
)

// refusal builds a Refused around err; sentinel decides the status.
func refused(sentinel error, code, zh, en string, err error) error {
	return &Refused{Code: code, ZH: zh, EN: en, err: fmt.Errorf("%w: %w", sentinel, err)}
}

// CardRefusal explains a card the desk could not use.
func CardRefusal(err error) error {
	switch {
	case errors.Is(err, ErrCardExpired):
		return refused(ErrInvalid, RefuseCardExpired, "社保卡已过期，请到窗口凭身份证办理", "the card has expired; please settle by ID number at the window", err)
	case errors.Is(err, ErrNoCard):
		return refused(ErrInvalid, RefuseNoCard, "请插入社保卡", "please insert the social-security card", err)
	case errors.Is(err, ErrUnknownReader):
		return refused(ErrInvalid, RefuseUnknownReader, "本机没有这个读卡器", "no such card reader on this terminal", err)
	case errors.Is(err, ErrNoDeskReader):
		return refused(ErrInvalid, RefuseNoReader, "本机未连接读卡器，请联系信息科", "no card reader is connected; please call IT", err)
	}
	return refused(ErrInvalid, RefuseCardUnreadable, "社保卡读取失败，请重新插卡", "the card could not be read; please insert it again", err)
}

// scanRefusal explains a scan the kiosk could not use.
func scanRefusal(err error) error {
	var rej *CodeRejection
	switch {
	case errors.As(err, &rej):
		code := rej.Reason
		if !strings.HasPrefix(code, "CODE_") {
			code = "CODE_" + code
		}
		return refused(ErrInvalid, code, rej.ZH, rej.EN, err)
	case errors.Is(err, ErrScanUsed):
		return refused(ErrInvalid, RefuseScanUsed, "此码已用于另一笔账单，请在手机上刷新医保码", "this code was used for another bill; please refresh the code on your phone", err)
	case errors.Is(err, ErrNoScan):
		return refused(ErrInvalid, RefuseNoScan, "未扫到医保码或已超时，请重新扫码", "no code was scanned, or it is too old; please scan again", err)
	}
	return fmt.Errorf("scan: %w", err) // the terminal's own failure, not the code's
}

// codeRefusals are the refusals of a code the terminal verified itself:
// CODE_ and the reason of the credential's verifier (a test in glue holds
// this list to the verifier's).
var codeRefusals = []string{
	"CODE_MALFORMED", "CODE_UNSUPPORTED_VERSION", "CODE_UNKNOWN_ISSUER", "CODE_ALGORITHM_MISMATCH",
	"CODE_BAD_CERTIFICATE_SIGNATURE", "CODE_CERTIFICATE_NOT_YET_VALID", "CODE_CERTIFICATE_EXPIRED",
	"CODE_ISSUER_KEY_NOT_VALID", "CODE_BAD_CODE_SIGNATURE", "CODE_FROM_FUTURE", "CODE_EXPIRED",
	"CODE_REVOKED", "CODE_REPLAYED",
}

// RefusalCodes lists every code a Refused may carry, for the API's
// document.
func RefusalCodes() []string {
	return append([]string{
		RefuseNoCard, RefuseCardExpired, RefuseCardUnreadable, RefuseUnknownReader, RefuseNoReader,
		RefuseNoScanner, RefuseNoScan, RefuseScanUsed, RefuseOtherPatient, RefuseCodeUnresolved,
		RefuseNoAgreement, "NO_CARD_ACCOUNT", "BAD_CARD_NUMBER", "BAD_LIMITS",
	}, codeRefusals...)
}

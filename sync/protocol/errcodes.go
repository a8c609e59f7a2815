package protocol

import "fmt"

// Stable reasons carried in err_code (failures) and in payresult.reason
// (a settlement whose self-pay part was not debited). The agent branches on
// these, never on err_msg.
const (
	CodeSignExpired        = "SIGN_EXPIRED"
	CodeBadSignature       = "BAD_SIGNATURE"
	CodeStaleTimestamp     = "STALE_TIMESTAMP"
	CodeNonceReused        = "NONCE_REUSED"
	CodeBadRequest         = "BAD_REQUEST"
	CodeUnknownTx          = "UNKNOWN_TX"
	CodeMsgidConflict      = "MSGID_CONFLICT"
	CodeDuplicate          = "DUPLICATE"
	CodeNotFound           = "NOT_FOUND"
	CodeNotInsured         = "NOT_INSURED"
	CodeInsufficientFunds  = "INSUFFICIENT_FUNDS"
	CodeLimitPerTxn        = "LIMIT_PER_TXN"
	CodeLimitDaily         = "LIMIT_DAILY"
	CodeNoAgreement        = "NO_AGREEMENT"
	CodeConfirmRequired    = "CONFIRM_REQUIRED"
	CodeAlreadyRefunded    = "ALREADY_REFUNDED"
	CodeBalanceMismatch    = "BALANCE_MISMATCH"
	CodeCredentialExpired  = "CREDENTIAL_EXPIRED"
	CodeCredentialReplayed = "CREDENTIAL_REPLAYED"
	CodeInternal           = "INTERNAL"
)

// Reasons of the identification and reversal transactions.
const (
	// CodeCardInvalid: the social-security card is expired or blocked;
	// err_msg says which. The patient is identified another way.
	CodeCardInvalid = "CARD_INVALID"
	// CodeReversed: the msgid was named by a reversal (2601) before it
	// arrived; it is never booked.
	CodeReversed = "REVERSED"
	// CodeCredentialInvalid: a QR credential code (1101 with
	// mdtrt_cert_type 01) that is not genuine or cannot be used: a bad
	// signature, an unknown issuer, a damaged or unknown code. Not
	// BAD_SIGNATURE, which is the request's own signature and a door
	// refusal. With CREDENTIAL_EXPIRED and CREDENTIAL_REPLAYED, err_msg
	// says what the patient should do.
	CodeCredentialInvalid = "CREDENTIAL_INVALID"
	// CodeCredentialRevoked: the code's certificate was revoked (a phone
	// reported lost); the patient is identified another way.
	CodeCredentialRevoked = "CREDENTIAL_REVOKED"
)

// Error is a failure answered by the platform (infcode -1).
type Error struct {
	Infno   string
	Code    string // err_code
	Message string // err_msg, as the platform wrote it
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("platform %s: %s", e.Infno, e.Message)
	}
	return fmt.Sprintf("platform %s: %s: %s", e.Infno, e.Code, e.Message)
}

// Processed reports whether the platform handled the request's content (and
// so stored its answer under the msgid) rather than refusing it at the
// door. Only a door refusal may be resent after fixing the envelope
// (a fresh sign-in, a fresh nonce); a processed failure is the answer.
func (e *Error) Processed() bool {
	switch e.Code {
	case CodeSignExpired, CodeBadSignature, CodeStaleTimestamp, CodeNonceReused, CodeUnknownTx, CodeInternal:
		return false
	}
	return true
}

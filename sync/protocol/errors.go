package protocol

import (
	"errors"
	"fmt"
)

// Sentinel errors of the package.
var (
	// ErrMalformed wraps every decoding failure of an envelope or its
	// fields.
	ErrMalformed = errors.New("malformed message")
	// ErrSecrets wraps every problem with a secrets file.
	ErrSecrets = errors.New("secrets file")
	// ErrStmtFile wraps every problem with a reconciliation file (3202).
	ErrStmtFile = errors.New("reconciliation file")
)

// Reasons the sandbox carries in err_code (failures) and in
// payresult.reason (a settlement whose self-pay part was not debited).
// SANDBOX-ONLY and TEMPORARY: no real gateway sends err_code. The old
// settlement core branches on them until it speaks agent.Insurance; the
// insurance adapter classifies failures by infcode and err_msg (Kind)
// and never reads them.
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

// Kinds of failure, as Classify and the client decide them from infcode,
// err_msg and the transport. They are the agent.Refusal kinds, spelled the
// same (a test pins it): the wire contract cannot import the core.
const (
	KindRefused   = "refused"   // processed, and the answer is no
	KindSignIn    = "sign_in"   // the session expired or is unknown
	KindDoor      = "door"      // refused before it was processed
	KindNotFound  = "not_found" // what it names does not exist
	KindDuplicate = "duplicate" // the platform already has it
)

// Error is a failure answered by the platform: an envelope with a non-zero
// infcode or a non-empty err_msg, or a gateway's refusal outside the
// envelope.
type Error struct {
	Infno   string
	Infcode int
	// Kind is the classification (Kind* constants); empty in errors built
	// by old code, where Code decides.
	Kind string
	// Code is the sandbox's err_code (temporary, see CodeSignExpired).
	Code    string
	Message string // err_msg, the trace suffix removed
	TraceID string
	Host    string // the answering server, from the trace suffix
}

func (e *Error) Error() string {
	switch {
	case e.Kind != "":
		return fmt.Sprintf("platform %s (%s): %s", e.Infno, e.Kind, e.Message)
	case e.Code == "":
		return fmt.Sprintf("platform %s: %s", e.Infno, e.Message)
	}
	return fmt.Sprintf("platform %s: %s: %s", e.Infno, e.Code, e.Message)
}

// Processed reports whether the platform handled the request's content (and
// so stored its answer under the msgid) rather than refusing it at the
// door. Only a door refusal may be resent after fixing the envelope
// (a fresh sign-in, a fresh nonce); a processed failure is the answer.
func (e *Error) Processed() bool {
	if e.Kind != "" {
		switch e.Kind {
		case KindRefused, KindNotFound, KindDuplicate:
			return true
		}
		return false
	}
	switch e.Code {
	case CodeSignExpired, CodeBadSignature, CodeStaleTimestamp, CodeNonceReused, CodeUnknownTx, CodeInternal:
		return false
	}
	return true
}

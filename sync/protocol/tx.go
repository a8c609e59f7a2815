package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// Tx describes one transaction: its code, its name, and its input and
// output types. A transaction is one entry; the client, the sandbox's
// router and the codec tests all walk the same table.
type Tx[I, O any] struct {
	Infno string
	Name  string
	// Money marks transactions that move money. An unanswered Money request
	// is in doubt: it may have been booked, so it is only ever resent under
	// the same msgid or reversed, never replaced.
	Money bool
	// NoOutput marks transactions whose success carries no output (2202,
	// 2205, 2601): output absent, null or {} is the zero O.
	NoOutput bool
	// File marks 9102, whose success is a file, not an envelope.
	File bool
}

// Entry is the type-erased view of a Tx for tables.
type Entry struct {
	Infno     string
	Name      string
	Money     bool
	NoOutput  bool
	File      bool
	NewInput  func() any
	NewOutput func() any
}

// Entry returns the table view of t.
func (t Tx[I, O]) Entry() Entry {
	return Entry{
		Infno: t.Infno, Name: t.Name, Money: t.Money, NoOutput: t.NoOutput, File: t.File,
		NewInput:  func() any { return new(I) },
		NewOutput: func() any { return new(O) },
	}
}

// EncodeInput marshals the transaction's input for the envelope.
func (t Tx[I, O]) EncodeInput(in I) (json.RawMessage, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode %s input: %w", t.Infno, err)
	}
	return b, nil
}

// DecodeOutput unmarshals an answer's output. Unknown fields are allowed
// (a real gateway adds its own), malformed amounts are not. A success
// without output is the zero O for a NoOutput transaction and malformed
// for the others.
func (t Tx[I, O]) DecodeOutput(raw json.RawMessage) (O, error) {
	var out O
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		if t.NoOutput {
			return out, nil
		}
		return out, fmt.Errorf("%w: %s answer has no output", ErrMalformed, t.Infno)
	}
	if err := unmarshal(raw, &out, false); err != nil {
		return out, fmt.Errorf("decode %s output: %w", t.Infno, err)
	}
	return out, nil
}

// The transactions. Adding one is adding a line here and one in Table.
var (
	SignIn          = Tx[SignInInput, SignInOutput]{Infno: "9001", Name: "sign-in"}
	PersonInfo      = Tx[PersonInfoInput, PersonInfoOutput]{Infno: "1101", Name: "person info"}
	Register        = Tx[RegisterInput, RegisterOutput]{Infno: "2201", Name: "outpatient registration"}
	RegisterCancel  = Tx[RegisterCancelInput, NoOutput]{Infno: "2202", Name: "registration cancel", NoOutput: true}
	UploadFees      = Tx[UploadFeesInput, UploadFeesOutput]{Infno: "2204", Name: "fee detail upload"}
	FeesCancel      = Tx[FeesCancelInput, NoOutput]{Infno: "2205", Name: "fee detail cancel", NoOutput: true}
	PreSettle       = Tx[PreSettleInput, PreSettleOutput]{Infno: "2206", Name: "pre-settlement"}
	Settle          = Tx[SettleInput, SettleOutput]{Infno: "2207", Name: "settlement", Money: true}
	CancelSettle    = Tx[CancelInput, CancelOutput]{Infno: "2208", Name: "settlement cancel", Money: true}
	Reverse         = Tx[ReverseInput, ReverseOutput]{Infno: "2601", Name: "reversal", Money: true, NoOutput: true}
	ReconcileTotals = Tx[ReconcileInput, ReconcileOutput]{Infno: "3201", Name: "reconciliation totals"}
	ReconcileDetail = Tx[ReconcileDetailInput, ReconcileDetailOutput]{Infno: "3202", Name: "reconciliation detail"}
	UploadFile      = Tx[FileUploadInput, FileUploadOutput]{Infno: "9101", Name: "file upload"}
	DownloadFile    = Tx[FileDownloadInput, NoOutput]{Infno: "9102", Name: "file download", File: true}
	PolicyParams    = Tx[PolicyInput, PolicyOutput]{Infno: "E002", Name: "policy parameters"}
	TrustList       = Tx[TrustListInput, TrustListOutput]{Infno: "E001", Name: "credential trust list"}
)

// Table lists every transaction by infno.
var Table = func() map[string]Entry {
	m := map[string]Entry{}
	for _, e := range []Entry{
		SignIn.Entry(), PersonInfo.Entry(), Register.Entry(), RegisterCancel.Entry(),
		UploadFees.Entry(), FeesCancel.Entry(), PreSettle.Entry(), Settle.Entry(),
		CancelSettle.Entry(), Reverse.Entry(), ReconcileTotals.Entry(), ReconcileDetail.Entry(),
		UploadFile.Entry(), DownloadFile.Entry(), PolicyParams.Entry(), TrustList.Entry(),
	} {
		m[e.Infno] = e
	}
	return m
}()

// Infnos returns the table's transaction codes in order.
func Infnos() []string {
	var s []string
	for k := range Table {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// DecodeInput decodes a request's input by its infno, as a real platform
// does: unknown fields are ignored (provinces add their own, and clients
// send fields another province requires), malformed values of known ones
// are not. What the platform uses it checks itself.
func DecodeInput(infno string, raw json.RawMessage) (any, error) {
	e, ok := Table[infno]
	if !ok {
		return nil, fmt.Errorf("%w: unknown transaction %q", ErrMalformed, infno)
	}
	v := e.NewInput()
	if err := unmarshal(raw, v, false); err != nil {
		return nil, fmt.Errorf("decode %s input: %w", infno, err)
	}
	return v, nil
}

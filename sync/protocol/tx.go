package protocol

import (
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
}

// Entry is the type-erased view of a Tx for tables.
type Entry struct {
	Infno     string
	Name      string
	Money     bool
	NewInput  func() any
	NewOutput func() any
}

// Entry returns the table view of t.
func (t Tx[I, O]) Entry() Entry {
	return Entry{
		Infno: t.Infno, Name: t.Name, Money: t.Money,
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
// (a real gateway adds its own), malformed amounts are not.
func (t Tx[I, O]) DecodeOutput(raw json.RawMessage) (O, error) {
	var out O
	if len(raw) == 0 {
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
	UploadFees      = Tx[UploadFeesInput, UploadFeesOutput]{Infno: "2204", Name: "fee detail upload"}
	PreSettle       = Tx[PreSettleInput, PreSettleOutput]{Infno: "2206", Name: "pre-settlement"}
	Settle          = Tx[SettleInput, SettleOutput]{Infno: "2207", Name: "settlement", Money: true}
	CancelSettle    = Tx[CancelInput, CancelOutput]{Infno: "2208", Name: "settlement cancel", Money: true}
	Reverse         = Tx[ReverseInput, ReverseOutput]{Infno: "2601", Name: "reversal", Money: true}
	ReconcileTotals = Tx[ReconcileInput, ReconcileOutput]{Infno: "3201", Name: "reconciliation totals"}
	ReconcileDetail = Tx[ReconcileDetailInput, ReconcileDetailOutput]{Infno: "3202", Name: "reconciliation detail"}
	PolicyParams    = Tx[PolicyInput, PolicyOutput]{Infno: "E002", Name: "policy parameters"}
	TrustList       = Tx[TrustListInput, TrustListOutput]{Infno: "E001", Name: "credential trust list"}
)

// Table lists every transaction by infno.
var Table = func() map[string]Entry {
	m := map[string]Entry{}
	for _, e := range []Entry{
		SignIn.Entry(), PersonInfo.Entry(), Register.Entry(), UploadFees.Entry(),
		PreSettle.Entry(), Settle.Entry(), CancelSettle.Entry(), Reverse.Entry(),
		ReconcileTotals.Entry(), ReconcileDetail.Entry(), PolicyParams.Entry(), TrustList.Entry(),
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

// DecodeInput strictly decodes a request's input by its infno. The sandbox
// uses it: an unknown field in a request is a client bug worth a loud no.
func DecodeInput(infno string, raw json.RawMessage) (any, error) {
	e, ok := Table[infno]
	if !ok {
		return nil, fmt.Errorf("%w: unknown transaction %q", ErrMalformed, infno)
	}
	v := e.NewInput()
	if err := unmarshal(raw, v, true); err != nil {
		return nil, fmt.Errorf("decode %s input: %w", infno, err)
	}
	return v, nil
}

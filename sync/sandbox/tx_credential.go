package sandbox

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// maxCodeText bounds a credential code: ours are 310 characters at most,
// national ones shorter still.
const maxCodeText = 512

// E001: the trust list terminals verify signed codes with. It is answered
// whole: a terminal replaces its list, it never patches it.
func trustList(c *call, in *protocol.TrustListInput) (any, error) {
	if v := in.Data.SinceVersion; v > c.p.trust.Version {
		return nil, refuse(protocol.CodeBadRequest, "since_version %d is above the platform's trust list version %d: that list was not issued here", v, c.p.trust.Version)
	}
	return trustOutput(c.p.trust), nil
}

// byCode identifies the patient by a dynamic credential code (1101 with
// mdtrt_cert_type 01). Any code is single-use across every terminal of
// every institution: the platform sees them all. The use is recorded in
// the 1101's own transaction, so a refused 1101 uses nothing, and a resent
// 1101 (the same msgid) gets its first answer back without using the code
// again.
func (c *call) byCode(text, begntime string) (*personas.Person, error) {
	switch {
	case text == "":
		return nil, refuse(protocol.CodeBadRequest, "mdtrt_cert_no holds no credential code")
	case len(text) > maxCodeText:
		return nil, refuse(protocol.CodeCredentialInvalid, "credential code of %d characters is not one the platform issued; please show the code again", len(text))
	case credential.IsOurs(text):
		at, err := c.presented(begntime)
		if err != nil {
			return nil, err
		}
		return c.bySignedCode(text, at)
	}
	return c.byOpaqueCode(text)
}

// bySignedCode verifies a code of ours as a terminal would, with the
// platform's own trust list and clock, and the platform's counters, which
// see every terminal.
func (c *call) bySignedCode(text string, at time.Time) (*personas.Person, error) {
	v, err := credential.NewVerifier(c.p.trust, txCounters{c}, clock.NewFake(at), credential.DefaultOptions())
	if err != nil {
		return nil, fmt.Errorf("%w: verifier: %v", ErrState, err)
	}
	id, err := v.Verify(context.Background(), text)
	if err != nil {
		return nil, codeRefusal(err)
	}
	psnNo := c.tx.Bucket(bucketTokens).Get([]byte(id.Person.String()))
	if psnNo == nil {
		return nil, refuse(protocol.CodeCredentialInvalid, "the certificate names no insured person of this platform")
	}
	p, ok := c.p.data.ByPsnNo(string(psnNo))
	if !ok {
		return nil, fmt.Errorf("%w: person token of an unknown psn_no", ErrState)
	}
	if id.Region != p.InsuplcAdmdvs {
		return nil, refuse(protocol.CodeCredentialInvalid, "the certificate's insured region is not the person's")
	}
	return p, nil
}

// maxPresentedAge bounds how long after a signed code was shown its bill
// may reach the platform: a terminal that verified the code offline
// forwards the deferred bill when the network is back, within the
// hospital's offline limits.
const maxPresentedAge = 7 * 24 * time.Hour

// presented is when the terminal says the patient showed the code
// (begntime, signed into the request with the institution's secret), for
// the code's lifetime check: a deferred bill arrives long after its code
// expired, but the code was valid when it was shown. Without begntime, or
// with one in the future or too old, the platform's clock decides.
func (c *call) presented(begntime string) (time.Time, error) {
	if begntime == "" {
		return c.now, nil
	}
	t, err := time.ParseInLocation(protocol.InfTimeLayout, begntime, protocol.CST)
	if err != nil {
		return time.Time{}, refuse(protocol.CodeBadRequest, "begntime %q is not yyyy-MM-dd HH:mm:ss", begntime)
	}
	switch {
	case t.After(c.now.Add(credential.DefaultSkew)):
		return time.Time{}, refuse(protocol.CodeCredentialInvalid, "begntime is in the future")
	case c.now.Sub(t) > maxPresentedAge:
		return time.Time{}, refuse(protocol.CodeCredentialExpired, "the code was shown more than %s ago", maxPresentedAge)
	}
	// begntime has a resolution of seconds; the code's own time may be
	// later within that second.
	return t.Add(time.Second - 1), nil
}

// codeRefusal maps a verifier's rejection to the answer: its stable
// reason and what the patient should do, never the person.
func codeRefusal(err error) error {
	r, ok := credential.Explain(err)
	if !ok {
		return err // the counter store failed: the state's problem, not the code's
	}
	code := protocol.CodeCredentialInvalid
	switch r {
	case credential.ErrReplayed:
		code = protocol.CodeCredentialReplayed
	case credential.ErrRevoked:
		code = protocol.CodeCredentialRevoked
	case credential.ErrCodeExpired, credential.ErrCertificateExpired, credential.ErrIssuerKeyValidity:
		code = protocol.CodeCredentialExpired
	}
	return refuse(code, "credential code refused (%s: %s); %s", r.Reason, r.Detail, r.EN)
}

// byOpaqueCode resolves a code the platform issued to a national-style
// app: known, younger than its 60 s, and not used before.
func (c *call) byOpaqueCode(text string) (*personas.Person, error) {
	var o opaqueRecord
	found, err := getJSON(c.tx, bucketOpaque, []byte(text), &o)
	if err != nil {
		return nil, err
	}
	switch {
	case !found:
		return nil, refuse(protocol.CodeCredentialInvalid, "unknown credential code; please refresh the code on your phone and show it again")
	case !c.now.Before(o.Expires):
		return nil, refuse(protocol.CodeCredentialExpired, "credential code expired; please refresh the code on your phone and show it again")
	case o.UsedBy != "":
		return nil, refuse(protocol.CodeCredentialReplayed, "credential code already used; please refresh the code on your phone")
	}
	o.UsedBy = c.req.Msgid
	if err := putJSON(c.tx, bucketOpaque, []byte(text), &o); err != nil {
		return nil, err
	}
	p, ok := c.p.data.ByPsnNo(o.PsnNo)
	if !ok {
		return nil, fmt.Errorf("%w: opaque code of an unknown psn_no", ErrState)
	}
	return p, nil
}

// txCounters is the platform's counter store, inside the 1101's bbolt
// transaction: an advance is committed with the answer, or not at all.
type txCounters struct{ c *call }

var _ credential.CounterStore = txCounters{}

func (s txCounters) Advance(_ context.Context, serial string, counter uint64) error {
	b := s.c.tx.Bucket(bucketQRCounters)
	if v := b.Get([]byte(serial)); v != nil {
		if len(v) != 8 {
			return fmt.Errorf("%w: counter of %s", ErrState, serial)
		}
		if high := binary.BigEndian.Uint64(v); counter <= high {
			return fmt.Errorf("serial %s counter %d, highest %d: %w", serial, counter, high, credential.ErrReplayed)
		}
	}
	if err := b.Put([]byte(serial), binary.BigEndian.AppendUint64(nil, counter)); err != nil {
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	return nil
}

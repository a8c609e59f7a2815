package sandbox_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/devices/credential/credtest"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
)

func qrQuery(text string) protocol.PersonInfoInput {
	return protocol.PersonInfoInput{Data: protocol.PersonQuery{MdtrtCertType: protocol.CertQR, MdtrtCertNo: text}}
}

// code makes the persona's phone show its next code, at the sandbox's time.
func (h *harness) code(persona string) sandbox.PhoneCode {
	h.t.Helper()
	c, err := h.p.Code(h.t.Context(), persona)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// identified checks that a 1101 answer names the persona.
func identified(t *testing.T, h *harness, resp protocol.Response, persona string) {
	t.Helper()
	out := output[protocol.PersonInfoOutput](t, resp)
	if p := h.person(persona); out.Baseinfo.PsnNo != p.PsnNo || out.Baseinfo.Certno != p.Certno {
		t.Fatalf("1101 identified %s, want %s", out.Baseinfo.PsnNo, p.PsnNo)
	}
}

func TestEveryKindOfPhoneIdentifiesItsPersona(t *testing.T) {
	tests := []struct {
		persona, kind, alg string
		keyID              credential.KeyID
	}{
		{"acct-first", sandbox.CodeSigned, "ed25519", 3},
		{"bank-card", sandbox.CodeSigned, "sm2-sm3", 5},
		{"deductible-met", sandbox.CodeSigned, "ed25519", 2}, // signed by the key rotated out
		{"resident-390", sandbox.CodeSigned, "sm2-sm3", 4},
		{"opaque-only", sandbox.CodeOpaque, "", 0},
	}
	h := newHarness(t)
	h.signIn()
	for _, tt := range tests {
		t.Run(tt.persona, func(t *testing.T) {
			c := h.code(tt.persona)
			if c.Kind != tt.kind || c.Alg != tt.alg || c.KeyID != tt.keyID {
				t.Fatalf("code %+v, want a %s %s code under key %d", c, tt.kind, tt.alg, tt.keyID)
			}
			if ours := credential.IsOurs(c.Text); ours != (tt.kind == sandbox.CodeSigned) {
				t.Fatalf("code %q: ours %v", c.Text, ours)
			}
			if strings.Contains(c.Text, h.person(tt.persona).Certno) {
				t.Fatal("the code carries the ID number")
			}
			identified(t, h, h.call("1101", qrQuery(c.Text)), tt.persona)
		})
	}
}

// forged makes codes the platform never issued: a phone certified by an
// issuer key the test holds, under a key id of its choosing.
func forged(t *testing.T, keyID credential.KeyID, now time.Time) string {
	t.Helper()
	issuerKey, _ := credential.GenerateKey(credential.Ed25519, nil)
	phoneKey, _ := credential.GenerateKey(credential.Ed25519, nil)
	is := credential.Issuer{KeyID: keyID, Key: issuerKey}
	cert, err := is.Issue(credential.Certificate{Serial: 7, Region: "441900", NotBefore: credential.DayOf(now) - 1, NotAfter: credential.DayOf(now) + 30}, phoneKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	ph, _ := credential.NewPhone(cert, phoneKey, 0)
	text, err := ph.Next(now)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// tampered flips a bit of a code's phone signature and encodes it again.
func tampered(t *testing.T, text string) string {
	t.Helper()
	c, err := credential.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	c.Signature[5] ^= 1
	b, err := c.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCredentialRejections(t *testing.T) {
	tests := []struct {
		name string
		// code returns the code to send, after whatever use or wait the
		// case needs.
		code func(h *harness) string
		err  string // err_code
		says string // in err_msg
	}{
		{"a code used at another terminal", func(h *harness) string {
			c := h.code("acct-first")
			h.dev = "KIOSK02"
			identified(h.t, h, h.call("1101", qrQuery(c.Text)), "acct-first")
			h.dev = devNo
			return c.Text
		}, protocol.CodeCredentialReplayed, "REPLAYED"},
		{"an older code after a newer one was used", func(h *harness) string {
			older, newer := h.code("bank-card"), h.code("bank-card")
			identified(h.t, h, h.call("1101", qrQuery(newer.Text)), "bank-card")
			return older.Text
		}, protocol.CodeCredentialReplayed, "REPLAYED"},
		{"a code 91 s old", func(h *harness) string {
			c := h.code("acct-first")
			h.clock.Advance(91 * time.Second)
			return c.Text
		}, protocol.CodeCredentialExpired, "CODE_EXPIRED"},
		{"a code from 31 s ahead", func(h *harness) string {
			c := h.code("acct-first")
			h.clock.Advance(-31 * time.Second)
			return c.Text
		}, protocol.CodeCredentialInvalid, "CODE_FROM_FUTURE"},
		{"a revoked phone", func(h *harness) string { return h.code("revoked-phone").Text },
			protocol.CodeCredentialRevoked, "REVOKED"},
		{"a tampered code", func(h *harness) string { return tampered(h.t, h.code("acct-first").Text) },
			protocol.CodeCredentialInvalid, "BAD_CODE_SIGNATURE"},
		{"an issuer the platform does not know", func(h *harness) string { return forged(h.t, 9, h.clock.Now()) },
			protocol.CodeCredentialInvalid, "UNKNOWN_ISSUER"},
		{"a forged certificate under the current key id", func(h *harness) string { return forged(h.t, 3, h.clock.Now()) },
			protocol.CodeCredentialInvalid, "BAD_CERTIFICATE_SIGNATURE"},
		{"a forged certificate under an SM2 key id", func(h *harness) string { return forged(h.t, 5, h.clock.Now()) },
			protocol.CodeCredentialInvalid, "ALGORITHM_MISMATCH"},
		{"a fresh code of a certificate of the rotated-out key after that key's end", func(h *harness) string {
			h.clock.Advance(181 * 24 * time.Hour)
			h.signIn()
			return h.code("deductible-met").Text
		}, protocol.CodeCredentialExpired, "CERTIFICATE_EXPIRED"},
		{"a damaged code", func(h *harness) string { return "YB1:$$$" }, protocol.CodeCredentialInvalid, "MALFORMED"},
		{"a code of a later format", func(h *harness) string { return "YB2:ABC" }, protocol.CodeCredentialInvalid, "UNSUPPORTED_VERSION"},
		{"an opaque code 60 s old", func(h *harness) string {
			c := h.code("opaque-only")
			h.clock.Advance(60 * time.Second)
			return c.Text
		}, protocol.CodeCredentialExpired, "expired"},
		{"an opaque code used before", func(h *harness) string {
			c := h.code("opaque-only")
			identified(h.t, h, h.call("1101", qrQuery(c.Text)), "opaque-only")
			return c.Text
		}, protocol.CodeCredentialReplayed, "already used"},
		{"an opaque code the platform never issued", func(h *harness) string { return "EC0123456789ABCDEF0123456789ABCDEF01234567" },
			protocol.CodeCredentialInvalid, "unknown"},
		{"an overlong code", func(h *harness) string { return strings.Repeat("A", 513) }, protocol.CodeCredentialInvalid, "513 characters"},
		{"no code at all", func(h *harness) string { return "" }, protocol.CodeBadRequest, "no credential code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.signIn()
			text := tt.code(h)
			resp := h.call("1101", qrQuery(text))
			refused(t, resp, tt.err)
			mustContain(t, resp.ErrMsg, tt.says)
			for _, p := range h.data.People {
				if strings.Contains(resp.ErrMsg, p.Certno) || strings.Contains(resp.ErrMsg, p.Name) {
					t.Fatalf("err_msg %q names a person", resp.ErrMsg)
				}
			}
		})
	}
}

// TestACodeIsUsedOncePerRequestNotPerSend: a resent 1101 (its msgid
// again) is the same use, answered as the first time; a new 1101 with
// the same code is a replay; a refused 1101 uses nothing.
func TestACodeIsUsedOncePerRequestNotPerSend(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	c := h.code("acct-first")
	msgid := h.nextMsgid()
	first := h.callAs("1101", msgid, qrQuery(c.Text))
	identified(t, h, first, "acct-first")
	again := h.callAs("1101", msgid, qrQuery(c.Text))
	if again.WarnMsg != protocol.CodeDuplicate {
		t.Fatalf("resend: warn_msg %q", again.WarnMsg)
	}
	identified(t, h, again, "acct-first")
	refused(t, h.call("1101", qrQuery(c.Text)), protocol.CodeCredentialReplayed)

	// A 1101 refused for another reason leaves the code unused.
	next := h.code("acct-first")
	mismatch := qrQuery(next.Text)
	mismatch.Data.Certno = h.person("bank-card").Certno
	refused(t, h.call("1101", mismatch), protocol.CodeNotFound)
	identified(t, h, h.call("1101", qrQuery(next.Text)), "acct-first")

	// The platform's counters survive a restart.
	h.reopen()
	h.signIn()
	refused(t, h.call("1101", qrQuery(next.Text)), protocol.CodeCredentialReplayed)
	identified(t, h, h.call("1101", qrQuery(h.code("acct-first").Text)), "acct-first")
}

// TestTheTrustListVerifiesThePhonesCodesOffline takes E001's output as a
// terminal does, hands it to the credential verifier, and verifies the
// sandbox's codes with no platform: the offline path of the agent.
func TestTheTrustListVerifiesThePhonesCodesOffline(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	resp := h.call("E001", protocol.TrustListInput{})
	tl, err := credential.DecodeTrustList(resp.Output)
	if err != nil {
		t.Fatalf("E001 output is not a trust list: %v\n%s", err, resp.Output)
	}
	if tl.Version != 1 || len(tl.Keys) != 5 {
		t.Fatalf("trust list version %d with %d keys", tl.Version, len(tl.Keys))
	}
	now := h.clock.Now()
	valid := map[credential.KeyID]bool{}
	for _, k := range tl.Keys {
		valid[k.KeyID] = !now.Before(k.NotBefore) && now.Before(k.NotAfter)
	}
	if want := map[credential.KeyID]bool{1: false, 2: true, 3: true, 4: true, 5: true}; !equalJSON(t, valid, want) {
		t.Fatalf("keys valid now: %v, want %v (key 1 expired)", valid, want)
	}
	phones, err := h.p.Phones(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	serials := map[string]string{}
	for _, ph := range phones {
		serials[ph.Persona] = ph.Serial
	}
	if len(tl.Revoked) != 1 || tl.Revoked[0].String() != serials["revoked-phone"] {
		t.Fatalf("revoked %v, want revoked-phone's serial %s", tl.Revoked, serials["revoked-phone"])
	}

	v, err := credential.NewVerifier(tl, &credtest.Counters{}, clock.NewFake(now), credential.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, persona := range []string{"acct-first", "bank-card", "deductible-met", "resident-390"} {
		c := h.code(persona)
		id, err := v.Verify(t.Context(), c.Text)
		if err != nil {
			t.Fatalf("%s: %v", persona, err)
		}
		if id.Serial.String() != serials[persona] || id.Counter != c.Counter || id.Region != h.person(persona).InsuplcAdmdvs {
			t.Fatalf("%s: verified %+v", persona, id.LogValue())
		}
	}
	if _, err := v.Verify(t.Context(), h.code("revoked-phone").Text); !isRejection(err, credential.ErrRevoked) {
		t.Fatalf("revoked phone offline: %v", err)
	}

	same := h.call("E001", protocol.TrustListInput{Data: protocol.TrustListQuery{SinceVersion: 1}})
	if string(same.Output) != string(resp.Output) {
		t.Fatal("E001 since the current version answered another list")
	}
	refused(t, h.call("E001", protocol.TrustListInput{Data: protocol.TrustListQuery{SinceVersion: 2}}), protocol.CodeBadRequest)

	// The keys are the state file's: the same after a restart, new after
	// a reset.
	h.reopen()
	h.signIn()
	if after := h.call("E001", protocol.TrustListInput{}); string(after.Output) != string(resp.Output) {
		t.Fatal("the trust list changed across a restart")
	}
	h.close()
	p, err := sandbox.Open(h.path, sandbox.Options{Clock: h.clock, Personas: h.data, Secrets: secrets, Reset: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if fresh := p.TrustList(); equalJSON(t, fresh.Keys, tl.Keys) || fresh.Revoked[0] == tl.Revoked[0] {
		t.Fatal("a reset kept the issuer keys or the serials")
	}
}

func isRejection(err, want error) bool {
	r, ok := credential.Explain(err)
	return ok && r == want
}

func TestPhoneAdminEndpoints(t *testing.T) {
	h := newHarness(t)
	status, body := h.admin(http.MethodGet, "/admin/phones/acct-first/code?format=text", "")
	if status != 200 || !strings.HasPrefix(body, "YB1:") {
		t.Fatalf("text: %d %q", status, body)
	}
	var c sandbox.PhoneCode
	status, body = h.admin(http.MethodGet, "/admin/phones/acct-first/code?format=json", "")
	if err := json.Unmarshal([]byte(body), &c); err != nil || status != 200 || c.Counter != 2 || c.Kind != sandbox.CodeSigned {
		t.Fatalf("json: %d %s", status, body)
	}
	if status, body = h.admin(http.MethodGet, "/admin/phones/opaque-only/code", ""); status != 200 || !strings.HasPrefix(body, "EC") || credential.IsOurs(body) {
		t.Fatalf("opaque text: %d %q", status, body)
	}
	if status, body = h.admin(http.MethodGet, "/admin/phones/bank-card/code?format=png", ""); status != 200 || !strings.HasPrefix(body, "\x89PNG") {
		t.Fatalf("png: %d, %d bytes", status, len(body))
	}
	if status, body = h.admin(http.MethodGet, "/admin/phones/bank-card/code?format=terminal", ""); status != 200 || !strings.Contains(body, "▀") {
		t.Fatalf("terminal: %d %q", status, body)
	}
	for path, want := range map[string]int{
		"/admin/phones/nobody/code":              http.StatusNotFound,
		"/admin/phones/family-child/code":        http.StatusNotFound, // ten years old: no phone
		"/admin/phones/acct-first/code?format=x": http.StatusBadRequest,
	} {
		if status, body := h.admin(http.MethodGet, path, ""); status != want {
			t.Errorf("%s: %d %s, want %d", path, status, body, want)
		}
	}
	var list []sandbox.PhoneInfo
	status, body = h.admin(http.MethodGet, "/admin/phones", "")
	if err := json.Unmarshal([]byte(body), &list); err != nil || status != 200 {
		t.Fatalf("list: %d %s", status, body)
	}
	with := 0
	for _, p := range h.data.People {
		if p.Phone != nil {
			with++
		}
	}
	if len(list) != with || list[0].Persona != "acct-first" || list[0].Last != 2 || list[0].Serial == "" {
		t.Fatalf("list of %d phones (want %d): %+v", len(list), with, list[0])
	}
	// Only the certificate's public facts: no person token, no key.
	var raw []map[string]any
	_ = json.Unmarshal([]byte(body), &raw)
	public := map[string]bool{"persona": true, "kind": true, "alg": true, "key_id": true, "serial": true,
		"not_before": true, "not_after": true, "revoked": true, "last_counter": true}
	for _, entry := range raw {
		for k := range entry {
			if !public[k] {
				t.Errorf("the list shows %q", k)
			}
		}
	}
}

// The lifetimes' edges, accepted: 60 s plus 30 s of skew behind, 30 s
// ahead, an opaque code in its last second.
func TestCredentialAcceptanceAtTheEdges(t *testing.T) {
	tests := []struct {
		name, persona string
		wait          time.Duration // after the code is made
	}{
		{"a code 90 s old", "acct-first", 90 * time.Second},
		{"an SM2 code 90 s old", "bank-card", 90 * time.Second},
		{"a code from 30 s ahead", "acct-first", -30 * time.Second},
		{"an opaque code 59 s old", "opaque-only", 59 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.signIn()
			c := h.code(tt.persona)
			h.clock.Advance(tt.wait)
			identified(t, h, h.call("1101", qrQuery(c.Text)), tt.persona)
		})
	}
}

// TestASchema1StateFileGetsItsPhones opens a state file as an older
// sandbox left it, without the phones' buckets, and finds it migrated:
// issuer keys drawn, the stored personas' phones issued, schema 2.
func TestASchema1StateFileGetsItsPhones(t *testing.T) {
	h := newHarness(t)
	h.close()
	db, err := bolt.Open(h.path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{"issuers", "phones", "tokens", "qr_counters", "opaque_codes", "opaque_times"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				return err
			}
		}
		meta := tx.Bucket([]byte("meta"))
		if err := meta.Delete([]byte("trust_version")); err != nil {
			return err
		}
		return meta.Put([]byte("schema"), []byte("1"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	h.open()
	h.signIn()
	tl, err := credential.DecodeTrustList(h.call("E001", protocol.TrustListInput{}).Output)
	if err != nil || len(tl.Keys) != 5 || tl.Version != 1 {
		t.Fatalf("trust list after migration: %+v, %v", tl, err)
	}
	identified(t, h, h.call("1101", qrQuery(h.code("bank-card").Text)), "bank-card")
	h.close()
	db, err = bolt.Open(h.path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte("meta")).Get([]byte("schema")); string(v) != "3" {
			t.Errorf("schema %q after migration, want 3", v)
		}
		return nil
	})
}

// TestADeferredBillsCodeIsJudgedAtTheTimeItWasShown: a terminal that
// verified a signed code offline forwards the bill hours later, saying in
// begntime when the code was shown; the code was valid then. It is still
// used once, and a claim of a time too old or in the future is refused.
func TestADeferredBillsCodeIsJudgedAtTheTimeItWasShown(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	c := h.code("acct-first")
	shown := protocol.FormatInfTime(c.Time)
	h.clock.Advance(5 * time.Hour) // the outage lasted all afternoon
	q := qrQuery(c.Text)
	if resp := h.call("1101", q); resp.ErrCode != protocol.CodeCredentialExpired {
		t.Fatalf("without begntime, a 5-hour-old code: %s; want CREDENTIAL_EXPIRED", resp.ErrCode)
	}
	q.Data.Begntime = shown
	identified(t, h, h.call("1101", q), "acct-first")
	if resp := h.call("1101", q); resp.ErrCode != protocol.CodeCredentialReplayed {
		t.Fatalf("the same code again: %s; want CREDENTIAL_REPLAYED", resp.ErrCode)
	}
	for name, begn := range map[string]string{
		"shown 8 days ago": protocol.FormatInfTime(h.clock.Now().Add(-8 * 24 * time.Hour)),
		"shown tomorrow":   protocol.FormatInfTime(h.clock.Now().Add(24 * time.Hour)),
	} {
		c2 := h.code("bank-card")
		q2 := qrQuery(c2.Text)
		q2.Data.Begntime = begn
		if resp := h.call("1101", q2); resp.Infcode == protocol.InfcodeOK {
			t.Errorf("%s: accepted", name)
		}
	}
}

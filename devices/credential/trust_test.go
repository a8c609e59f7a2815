package credential_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/devices/credential"
)

func vectorTrustList(t *testing.T) *credential.TrustList {
	t.Helper()
	tl := &credential.TrustList{Version: 7, Revoked: []credential.Serial{0x0123456789abcdef, 1}}
	for _, alg := range algs {
		tl.Keys = append(tl.Keys, newWorld(t, alg).issuer.TrustEntry(keyFrom, keyUntil))
	}
	return tl
}

func TestTrustListJSONRoundTrip(t *testing.T) {
	tl := vectorTrustList(t)
	data, err := json.Marshal(tl)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"version":7`,
		`"key_id":1,"alg":"ed25519","public_key":"03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"`,
		`"alg":"sm2-sm3"`,
		`"not_before":"2026-01-01T00:00:00+08:00","not_after":"2027-07-01T00:00:00+08:00"`,
		`"revoked":["0123456789abcdef","0000000000000001"]`,
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("trust list JSON lacks %s:\n%s", want, data)
		}
	}
	back, err := credential.DecodeTrustList(data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(back)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(data) {
		t.Errorf("round trip changed the list:\n%s\n%s", data, again)
	}
}

func TestDecodeTrustListRefusesInvalidLists(t *testing.T) {
	const (
		ed    = `"alg":"ed25519","public_key":"03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"`
		dates = `"not_before":"2026-01-01T00:00:00+08:00","not_after":"2027-01-01T00:00:00+08:00"`
	)
	cases := []struct{ name, json, field string }{
		{"not JSON", `{"version":`, ""},
		{"key id twice", `{"version":1,"keys":[{"key_id":1,` + ed + `,` + dates + `},{"key_id":1,` + ed + `,` + dates + `}]}`, "keys[1].key_id"},
		{"unknown algorithm", `{"version":1,"keys":[{"key_id":1,"alg":"rsa","public_key":"00",` + dates + `}]}`, "algorithm"},
		{"key too short", `{"version":1,"keys":[{"key_id":1,"alg":"ed25519","public_key":"03a1",` + dates + `}]}`, "keys[0].public_key"},
		{"key not hex", `{"version":1,"keys":[{"key_id":1,"alg":"ed25519","public_key":"zz",` + dates + `}]}`, "public_key"},
		{"sm2 key off the curve", `{"version":1,"keys":[{"key_id":1,"alg":"sm2-sm3","public_key":"02` + strings.Repeat("ff", 32) + `",` + dates + `}]}`, "keys[0].public_key"},
		{"sm2 key uncompressed", `{"version":1,"keys":[{"key_id":1,"alg":"sm2-sm3","public_key":"04` + strings.Repeat("11", 32) + `",` + dates + `}]}`, "keys[0].public_key"},
		{"no dates", `{"version":1,"keys":[{"key_id":1,` + ed + `}]}`, "keys[0]"},
		{"ends before it starts", `{"version":1,"keys":[{"key_id":1,` + ed + `,"not_before":"2027-01-01T00:00:00Z","not_after":"2026-01-01T00:00:00Z"}]}`, "keys[0]"},
		{"serial too short", `{"version":1,"keys":[],"revoked":["1234"]}`, "serial"},
		{"serial not hex", `{"version":1,"keys":[],"revoked":["0123456789abcdeg"]}`, "serial"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := credential.DecodeTrustList([]byte(tc.json))
			if !errors.Is(err, credential.ErrTrustList) {
				t.Fatalf("DecodeTrustList = %v, want ErrTrustList", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %q", err, tc.field)
			}
		})
	}
}

func TestDecodeTrustListIgnoresFieldsItDoesNotKnow(t *testing.T) {
	tl, err := credential.DecodeTrustList([]byte(`{"version":3,"published_at":"x","keys":[{"key_id":4,"usage":"codes",` +
		`"alg":"ed25519","public_key":"03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8",` +
		`"not_before":"2026-01-01T00:00:00+08:00","not_after":"2027-01-01T00:00:00+08:00"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if tl.Version != 3 || len(tl.Keys) != 1 || tl.Keys[0].KeyID != 4 {
		t.Errorf("decoded %+v", tl)
	}
}

func TestSetTrustListRefusesAnOlderOrInvalidList(t *testing.T) {
	f := newFixture(t, credential.Ed25519)
	f.setTrust(f.trust.Keys) // version 2
	older := &credential.TrustList{Version: 1, Keys: f.trust.Keys, Revoked: []credential.Serial{0x0123456789abcdef}}
	if err := f.v.SetTrustList(older); !errors.Is(err, credential.ErrTrustListRollback) {
		t.Fatalf("SetTrustList(older) = %v, want ErrTrustListRollback", err)
	}
	broken := &credential.TrustList{Version: 9, Keys: []credential.IssuerKey{{KeyID: 1, Algorithm: credential.Ed25519}}}
	if err := f.v.SetTrustList(broken); !errors.Is(err, credential.ErrTrustList) {
		t.Fatalf("SetTrustList(broken) = %v, want ErrTrustList", err)
	}
	if f.v.TrustVersion() != 2 {
		t.Errorf("trust version %d after refusals, want 2", f.v.TrustVersion())
	}
	mustVerify(f, f.code(0, 1)) // neither refused list took effect
	if err := f.v.SetTrustList(&credential.TrustList{Version: 2, Keys: f.trust.Keys}); err != nil {
		t.Errorf("the same version again: %v", err)
	}
}

func TestNewVerifierNeedsAValidTrustList(t *testing.T) {
	f := newFixture(t, credential.Ed25519)
	if _, err := credential.NewVerifier(nil, f.counters, f.clk, credential.DefaultOptions()); !errors.Is(err, credential.ErrTrustList) {
		t.Errorf("NewVerifier(nil list) = %v", err)
	}
	if _, err := credential.NewVerifier(f.trust, nil, f.clk, credential.DefaultOptions()); err == nil {
		t.Error("NewVerifier accepted no counter store")
	}
	if _, err := credential.NewVerifier(f.trust, f.counters, nil, credential.DefaultOptions()); err == nil {
		t.Error("NewVerifier accepted no clock")
	}
}

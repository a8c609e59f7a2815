package credential

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// TrustList is what the platform publishes in transaction E001: the issuer
// keys that terminals accept, and the serials they refuse. A newer list
// replaces the older one whole.
type TrustList struct {
	// Version increases with every change; a terminal never goes back to a
	// lower one.
	Version uint64      `json:"version"`
	Keys    []IssuerKey `json:"keys"`
	Revoked []Serial    `json:"revoked"`
}

// IssuerKey is one issuer key and the period in which terminals accept the
// certificates it signed. Rotation publishes the new key beside the old
// one; the old one keeps verifying its certificates until its NotAfter.
type IssuerKey struct {
	KeyID     KeyID     `json:"key_id"`
	Algorithm Algorithm `json:"alg"`
	// PublicKey is the key's wire form, hex in JSON.
	PublicKey []byte    `json:"public_key"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

type issuerKeyJSON struct {
	KeyID     KeyID     `json:"key_id"`
	Algorithm Algorithm `json:"alg"`
	PublicKey string    `json:"public_key"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

// MarshalJSON writes the public key in hex.
func (k IssuerKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(issuerKeyJSON{k.KeyID, k.Algorithm, hex.EncodeToString(k.PublicKey), k.NotBefore, k.NotAfter})
}

// UnmarshalJSON reads the public key in hex.
func (k *IssuerKey) UnmarshalJSON(b []byte) error {
	var j issuerKeyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	pub, err := hex.DecodeString(j.PublicKey)
	if err != nil {
		return fmt.Errorf("public_key: %w", err)
	}
	*k = IssuerKey{j.KeyID, j.Algorithm, pub, j.NotBefore, j.NotAfter}
	return nil
}

// DecodeTrustList reads a trust list from JSON and validates it. Fields it
// does not know are ignored, so that a platform may add some without
// breaking older terminals; every field it knows must be valid.
func DecodeTrustList(data []byte) (*TrustList, error) {
	var tl TrustList
	if err := json.Unmarshal(data, &tl); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTrustList, err)
	}
	if err := tl.Validate(); err != nil {
		return nil, err
	}
	return &tl, nil
}

// Validate checks every key and serial, naming the field that fails.
func (tl *TrustList) Validate() error {
	_, err := compile(tl)
	return err
}

// trust is a validated trust list, indexed for verification.
type trust struct {
	version uint64
	keys    map[KeyID]issuerKey
	revoked map[Serial]struct{}
}

type issuerKey struct {
	pub                 *PublicKey
	notBefore, notAfter time.Time
}

func compile(tl *TrustList) (*trust, error) {
	if tl == nil {
		return nil, fmt.Errorf("no trust list: %w", ErrTrustList)
	}
	t := &trust{
		version: tl.Version,
		keys:    make(map[KeyID]issuerKey, len(tl.Keys)),
		revoked: make(map[Serial]struct{}, len(tl.Revoked)),
	}
	for i, k := range tl.Keys {
		if _, dup := t.keys[k.KeyID]; dup {
			return nil, fmt.Errorf("keys[%d].key_id %d listed twice: %w", i, k.KeyID, ErrTrustList)
		}
		pub, err := ParsePublicKey(k.Algorithm, k.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("keys[%d].public_key: %w: %w", i, ErrTrustList, err)
		}
		if k.NotBefore.IsZero() || k.NotAfter.IsZero() || !k.NotBefore.Before(k.NotAfter) {
			return nil, fmt.Errorf("keys[%d]: not_before must be set and before not_after: %w", i, ErrTrustList)
		}
		t.keys[k.KeyID] = issuerKey{pub: pub, notBefore: k.NotBefore, notAfter: k.NotAfter}
	}
	for _, s := range tl.Revoked {
		t.revoked[s] = struct{}{}
	}
	return t, nil
}

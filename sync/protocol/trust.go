package protocol

import "time"

// E001 trust list (extension): the issuer keys of the signed dynamic QR
// credentials and the certificate serials revoked, as devices/credential's
// FORMAT.md specifies them. The output is the JSON of credential.TrustList
// itself, not wrapped, so that a terminal hands it to
// credential.DecodeTrustList as it came. It is mirrored here rather than
// imported, to keep the wire contract free of the verifier.

type TrustListInput struct {
	Data TrustListQuery `json:"data"`
}

type TrustListQuery struct {
	// SinceVersion is the version the terminal holds (0: none). The
	// platform answers its whole current list whatever it is, since a
	// terminal replaces its list whole; a version above the platform's is
	// refused: that list was not issued here.
	SinceVersion uint64 `json:"since_version"`
}

type TrustListOutput struct {
	Version uint64     `json:"version"`
	Keys    []TrustKey `json:"keys"`
	Revoked []string   `json:"revoked"` // serials, 16 hex digits each
}

// TrustKey is one issuer key: terminals accept the certificates it signed
// from NotBefore until NotAfter.
type TrustKey struct {
	KeyID     uint16    `json:"key_id"`
	Alg       string    `json:"alg"`        // "ed25519" or "sm2-sm3"
	PublicKey string    `json:"public_key"` // hex of the key's wire form
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// The sandbox plays the patients' phones: it holds the platform's issuer
// keys, a certificate and a phone key per persona with a phone, and makes
// their codes on demand. Every key, serial and person token is random,
// drawn when the state file is seeded (or migrated to schema 2), and kept
// in the state file: a reset makes new ones, and a terminal then needs the
// new trust list (E001).

// Issuer key roles.
const (
	roleExpired  = "expired" // past its validity: its certificates are refused
	rolePrevious = personas.IssuerPrevious
	roleCurrent  = personas.IssuerCurrent
)

// issuerPlan is the platform's issuer keys: for each algorithm a current
// key and the previous one, rotated out but still valid for the
// certificates it signed, and an Ed25519 key long expired. Validity is in
// days from the seeding day.
var issuerPlan = []struct {
	id          credential.KeyID
	alg         credential.Algorithm
	role        string
	from, until int
}{
	{1, credential.Ed25519, roleExpired, -3 * 365, -365},
	{2, credential.Ed25519, rolePrevious, -2 * 365, 180},
	{3, credential.Ed25519, roleCurrent, -90, 3 * 365},
	{4, credential.SM2SM3, rolePrevious, -2 * 365, 180},
	{5, credential.SM2SM3, roleCurrent, -90, 3 * 365},
}

// Certificate validity, in days around the seeding day. A certificate of
// the previous key ends the day before its key does: a certificate should
// not outlive its issuer.
const (
	certBackdate     = 30
	certDays         = 365
	prevCertBackdate = 300
)

// Opaque codes: what the national app shows, resolved by the platform
// only. Each is remembered for opaqueLifetime and kept opaqueKept, so that
// a late use is told "expired" rather than "unknown".
const (
	opaqueLifetime = credential.DefaultLifetime
	opaqueKept     = time.Hour
	opaquePrefix   = "EC"
)

type issuerRecord struct {
	KeyID     credential.KeyID `json:"key_id"`
	Alg       string           `json:"alg"`
	Role      string           `json:"role"`
	Private   []byte           `json:"private"` // credential.PrivateKey.MarshalBinary: a sandbox key, never a real platform's
	NotBefore time.Time        `json:"not_before"`
	NotAfter  time.Time        `json:"not_after"`
}

type phoneRecord struct {
	Persona     string `json:"persona"`
	PsnNo       string `json:"psn_no"`
	Opaque      bool   `json:"opaque,omitempty"`
	Certificate []byte `json:"certificate,omitempty"` // wire form, with the person token
	Private     []byte `json:"private,omitempty"`     // the phone's key
	Last        uint32 `json:"last"`                  // counter of the last code made
	Revoked     bool   `json:"revoked,omitempty"`
}

type opaqueRecord struct {
	PsnNo   string    `json:"psn_no"`
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires"`
	UsedBy  string    `json:"used_by,omitempty"` // the 1101 msgid that used it
}

func issuerKey(id credential.KeyID) []byte { return binary.BigEndian.AppendUint16(nil, uint16(id)) }

// seedCredentials makes the issuer keys and every persona's phone.
func (p *Platform) seedCredentials(tx *bolt.Tx, now time.Time) error {
	issuers := map[string]*credential.Issuer{} // alg/role → issuer
	notAfter := map[string]time.Time{}
	for _, plan := range issuerPlan {
		key, err := credential.GenerateKey(plan.alg, rand.Reader)
		if err != nil {
			return fmt.Errorf("%w: issuer key: %v", ErrState, err)
		}
		priv, _ := key.MarshalBinary()
		rec := issuerRecord{
			KeyID: plan.id, Alg: plan.alg.String(), Role: plan.role, Private: priv,
			NotBefore: now.AddDate(0, 0, plan.from), NotAfter: now.AddDate(0, 0, plan.until),
		}
		if err := putJSON(tx, bucketIssuers, issuerKey(plan.id), &rec); err != nil {
			return err
		}
		issuers[rec.Alg+"/"+rec.Role] = &credential.Issuer{KeyID: plan.id, Key: key}
		notAfter[rec.Alg+"/"+rec.Role] = rec.NotAfter
	}
	today := credential.DayOf(now)
	for _, person := range p.data.People {
		ph := person.Phone
		if ph == nil {
			continue
		}
		rec := phoneRecord{Persona: person.Key, PsnNo: person.PsnNo, Opaque: ph.Opaque, Revoked: ph.Revoked}
		if !ph.Opaque {
			role := ph.Alg + "/" + ph.IssuerRole()
			tmpl := credential.Certificate{Region: person.InsuplcAdmdvs, NotBefore: today - certBackdate, NotAfter: today + certDays}
			if ph.IssuerRole() == rolePrevious {
				tmpl.NotBefore, tmpl.NotAfter = today-prevCertBackdate, credential.DayOf(notAfter[role])-1
			}
			if err := randomCertificate(&tmpl); err != nil {
				return err
			}
			if err := tx.Bucket(bucketTokens).Put([]byte(tmpl.Person.String()), []byte(person.PsnNo)); err != nil {
				return fmt.Errorf("%w: %v", ErrState, err)
			}
			var alg credential.Algorithm
			if err := alg.UnmarshalText([]byte(ph.Alg)); err != nil {
				return fmt.Errorf("%w: persona %s: %v", ErrState, person.Key, err) // validated at load
			}
			key, err := credential.GenerateKey(alg, rand.Reader)
			if err != nil {
				return fmt.Errorf("%w: phone key: %v", ErrState, err)
			}
			cert, err := issuers[role].Issue(tmpl, key.Public())
			if err != nil {
				return fmt.Errorf("%w: persona %s: %v", ErrState, person.Key, err)
			}
			if rec.Certificate, err = cert.MarshalBinary(); err != nil {
				return fmt.Errorf("%w: %v", ErrState, err)
			}
			rec.Private, _ = key.MarshalBinary()
		}
		if err := putJSON(tx, bucketPhones, []byte(person.Key), &rec); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(metaTrustVersion, []byte("1"))
}

// randomCertificate draws the serial and the person token: random, so
// that neither says anything about the person, and a token is never an ID
// number.
func randomCertificate(c *credential.Certificate) error {
	var b [8 + 16]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("%w: random: %v", ErrState, err)
		}
		if c.Serial = credential.Serial(binary.BigEndian.Uint64(b[:8])); c.Serial != 0 {
			break
		}
	}
	copy(c.Person[:], b[8:])
	return nil
}

// loadTrust builds the trust list from the state: every issuer key, and
// the serials of revoked phones.
func loadTrust(tx *bolt.Tx) (*credential.TrustList, error) {
	tl := &credential.TrustList{Keys: []credential.IssuerKey{}, Revoked: []credential.Serial{}}
	if v := tx.Bucket(bucketMeta).Get(metaTrustVersion); v != nil {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: trust list version %q", ErrState, v)
		}
		tl.Version = n
	}
	err := tx.Bucket(bucketIssuers).ForEach(func(_, v []byte) error {
		var rec issuerRecord
		if err := unmarshalState(v, &rec); err != nil {
			return err
		}
		key, err := credential.ParsePrivateKey(rec.Private)
		if err != nil {
			return fmt.Errorf("%w: issuer key %d: %v", ErrState, rec.KeyID, err)
		}
		is := credential.Issuer{KeyID: rec.KeyID, Key: key}
		tl.Keys = append(tl.Keys, is.TrustEntry(rec.NotBefore, rec.NotAfter))
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = tx.Bucket(bucketPhones).ForEach(func(_, v []byte) error {
		var rec phoneRecord
		if err := unmarshalState(v, &rec); err != nil {
			return err
		}
		if rec.Revoked {
			cert, err := credential.ParseCertificate(rec.Certificate)
			if err != nil {
				return fmt.Errorf("%w: phone of %s: %v", ErrState, rec.Persona, err)
			}
			tl.Revoked = append(tl.Revoked, cert.Serial)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(tl.Revoked)
	if err := tl.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	return tl, nil
}

// TrustList is the trust list that E001 publishes.
func (p *Platform) TrustList() *credential.TrustList { return p.trust }

// Phone codes.
const (
	CodeSigned = "signed"
	CodeOpaque = "opaque"
)

// PhoneCode is one code a persona's phone shows.
type PhoneCode struct {
	Persona string `json:"persona"`
	Kind    string `json:"kind"` // signed or opaque
	Text    string `json:"text"`
	// Time is the phone's clock (the sandbox's) when it made the code,
	// Expires the end of its lifetime (terminals allow clock skew on top).
	Time    time.Time `json:"time"`
	Expires time.Time `json:"expires"`
	// Of a signed code:
	Counter uint32           `json:"counter,omitempty"`
	Serial  string           `json:"serial,omitempty"`
	Alg     string           `json:"alg,omitempty"`
	KeyID   credential.KeyID `json:"key_id,omitempty"`
}

// Code makes the persona's phone show its next code, at the platform's
// time: a signed code with the next counter (stored before the code is
// returned, so no counter is shown twice), or for an opaque phone a fresh
// token that the platform remembers for 60 s.
func (p *Platform) Code(ctx context.Context, persona string) (PhoneCode, error) {
	if err := ctx.Err(); err != nil {
		return PhoneCode{}, err
	}
	if _, ok := p.data.ByKey(persona); !ok {
		return PhoneCode{}, fmt.Errorf("%w: %q", ErrUnknownPersona, persona)
	}
	var out PhoneCode
	err := p.db.Update(func(tx *bolt.Tx) error {
		now := p.clock.Now()
		var rec phoneRecord
		found, err := getJSON(tx, bucketPhones, []byte(persona), &rec)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: persona %s", ErrNoPhone, persona)
		}
		if rec.Opaque {
			out, err = newOpaqueCode(tx, rec, now)
			return err
		}
		out, err = nextSignedCode(&rec, now)
		if err != nil {
			return err
		}
		return putJSON(tx, bucketPhones, []byte(persona), &rec)
	})
	if err != nil {
		return PhoneCode{}, fmt.Errorf("code of %s: %w", persona, err)
	}
	return out, nil
}

func nextSignedCode(rec *phoneRecord, now time.Time) (PhoneCode, error) {
	cert, err := credential.ParseCertificate(rec.Certificate)
	if err != nil {
		return PhoneCode{}, fmt.Errorf("%w: certificate: %v", ErrState, err)
	}
	key, err := credential.ParsePrivateKey(rec.Private)
	if err != nil {
		return PhoneCode{}, fmt.Errorf("%w: phone key: %v", ErrState, err)
	}
	phone, err := credential.NewPhone(cert, key, rec.Last)
	if err != nil {
		return PhoneCode{}, fmt.Errorf("%w: %v", ErrState, err)
	}
	text, err := phone.Next(now)
	if err != nil {
		return PhoneCode{}, fmt.Errorf("%w: %v", ErrState, err)
	}
	rec.Last = phone.Last()
	t := now.Truncate(time.Second)
	return PhoneCode{
		Persona: rec.Persona, Kind: CodeSigned, Text: text, Time: t, Expires: t.Add(credential.DefaultLifetime),
		Counter: rec.Last, Serial: cert.Serial.String(), Alg: cert.Algorithm.String(), KeyID: cert.KeyID,
	}, nil
}

func newOpaqueCode(tx *bolt.Tx, rec phoneRecord, now time.Time) (PhoneCode, error) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return PhoneCode{}, fmt.Errorf("%w: random: %v", ErrState, err)
	}
	text := opaquePrefix + strings.ToUpper(hex.EncodeToString(b[:]))
	o := opaqueRecord{PsnNo: rec.PsnNo, Issued: now, Expires: now.Add(opaqueLifetime)}
	if err := putJSON(tx, bucketOpaque, []byte(text), &o); err != nil {
		return PhoneCode{}, err
	}
	if err := tx.Bucket(bucketOpaqueTimes).Put(timeKey(now.Unix(), []byte(text)), nil); err != nil {
		return PhoneCode{}, fmt.Errorf("%w: %v", ErrState, err)
	}
	if err := pruneIndex(tx, bucketOpaqueTimes, bucketOpaque, now.Add(-opaqueKept).Unix()); err != nil {
		return PhoneCode{}, fmt.Errorf("%w: prune opaque codes: %v", ErrState, err)
	}
	return PhoneCode{Persona: rec.Persona, Kind: CodeOpaque, Text: text, Time: now, Expires: o.Expires}, nil
}

// PhoneInfo is a persona's phone as the admin API lists it: the
// certificate's public facts, never its person token or keys.
type PhoneInfo struct {
	Persona   string           `json:"persona"`
	Kind      string           `json:"kind"`
	Alg       string           `json:"alg,omitempty"`
	KeyID     credential.KeyID `json:"key_id,omitempty"`
	Serial    string           `json:"serial,omitempty"`
	NotBefore string           `json:"not_before,omitempty"` // first valid day, CST
	NotAfter  string           `json:"not_after,omitempty"`  // last valid day
	Revoked   bool             `json:"revoked,omitempty"`
	Last      uint32           `json:"last_counter"`
}

// Phones lists every persona's phone, in data set order.
func (p *Platform) Phones(ctx context.Context) ([]PhoneInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []PhoneInfo{}
	err := p.db.View(func(tx *bolt.Tx) error {
		for _, person := range p.data.People {
			var rec phoneRecord
			found, err := getJSON(tx, bucketPhones, []byte(person.Key), &rec)
			if err != nil || !found {
				if err != nil {
					return err
				}
				continue
			}
			info := PhoneInfo{Persona: rec.Persona, Kind: CodeOpaque, Revoked: rec.Revoked, Last: rec.Last}
			if !rec.Opaque {
				cert, err := credential.ParseCertificate(rec.Certificate)
				if err != nil {
					return fmt.Errorf("%w: phone of %s: %v", ErrState, rec.Persona, err)
				}
				info.Kind, info.Alg, info.KeyID, info.Serial = CodeSigned, cert.Algorithm.String(), cert.KeyID, cert.Serial.String()
				info.NotBefore, info.NotAfter = cert.NotBefore.String(), cert.NotAfter.String()
			}
			out = append(out, info)
		}
		return nil
	})
	return out, err
}

// trustOutput is the trust list in E001's wire form.
func trustOutput(tl *credential.TrustList) protocol.TrustListOutput {
	out := protocol.TrustListOutput{Version: tl.Version, Keys: []protocol.TrustKey{}, Revoked: []string{}}
	for _, k := range tl.Keys {
		out.Keys = append(out.Keys, protocol.TrustKey{
			KeyID: uint16(k.KeyID), Alg: k.Algorithm.String(), PublicKey: hex.EncodeToString(k.PublicKey),
			NotBefore: k.NotBefore, NotAfter: k.NotAfter,
		})
	}
	for _, s := range tl.Revoked {
		out.Revoked = append(out.Revoked, s.String())
	}
	return out
}

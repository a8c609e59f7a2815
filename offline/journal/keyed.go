package journal

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"strings"

	"github.com/emmansun/gmsm/sm3"
	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/offline/seal"
)

// Everything the journal stores that is derived from personal data is
// either sealed or keyed: a plain digest of an ID number can be reversed
// by trying every candidate (for a known region and birth year there are
// only some 365,000), so a copied file alone would name the patient. The
// keys below are derived from the journal key, which lives in its own
// file, so a journal without its key gives no way to test a guess.

// digestKeys are the keys of the journal's keyed digests, one per use so
// that equal inputs in different roles never give equal outputs.
type digestKeys struct {
	pseudonym   []byte // Pseudonym: a patient across bills
	fingerprint []byte // Fingerprint: a request's content
	counter     []byte // a credential serial, as the counters' index key
}

func deriveDigestKeys(key seal.Key) digestKeys {
	derive := func(label string) []byte {
		h := sm3.New()
		h.Write([]byte(label))
		h.Write(key[:])
		return h.Sum(nil)
	}
	return digestKeys{
		pseudonym:   derive("medterm pseudonym key\n"),
		fingerprint: derive("medterm fingerprint key\n"),
		counter:     derive("medterm counter key\n"),
	}
}

func keyedSM3(key []byte, parts ...string) []byte {
	m := hmac.New(sm3.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// Pseudonym returns a stable, keyed, one-way name for a personal value
// (an ID number, a credential's person token): the same patient gets the
// same pseudonym, so deferred bills can be counted and ordered per patient
// without storing who the patient is in clear.
func (j *Journal) Pseudonym(value string) string {
	return hex.EncodeToString(keyedSM3(j.keys.pseudonym, value)[:16])
}

// fingerprintPrefix marks a keyed fingerprint. Journals before schema v4
// (and archives written from them) hold plain SM3 digests, which have
// none; the prefix lets a record say which it holds.
const fingerprintPrefix = "k1:"

// Fingerprint implements agent.Journal: a keyed digest of a request's
// content, HMAC-SM3 of its SM3 digest. Keying the plain digest, rather
// than the content, is what lets the v4 migration key the digests that
// older journals hold and still match a resubmitted request.
func (j *Journal) Fingerprint(request []byte) string {
	sum := sm3.Sum(request)
	return j.keyFingerprint(hex.EncodeToString(sum[:]))
}

// keyFingerprint keys a plain digest; a keyed one is returned unchanged.
func (j *Journal) keyFingerprint(digest string) string {
	if digest == "" || strings.HasPrefix(digest, fingerprintPrefix) {
		return digest
	}
	return fingerprintPrefix + hex.EncodeToString(keyedSM3(j.keys.fingerprint, digest))
}

// counterKey is a credential serial as the counters bucket's key.
func (j *Journal) counterKey(serial string) []byte {
	return keyedSM3(j.keys.counter, serial)[:16]
}

// keyRecordFingerprint rewrites a stored record with its fingerprint
// keyed, and reports whether anything changed.
func (j *Journal) keyRecordFingerprint(id string, data []byte) ([]byte, bool, error) {
	s, seq, err := j.decodeRecord(id, data, true)
	if err != nil {
		return nil, false, err
	}
	keyed := j.keyFingerprint(s.Fingerprint)
	if keyed == s.Fingerprint {
		return data, false, nil
	}
	s.Fingerprint = keyed
	out, err := j.encode(s, seq)
	return out, err == nil, err
}

// keyArchive keys the fingerprints of an archive written before schema
// v4, once: the archive records that it is done.
func (j *Journal) keyArchive(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if meta.Get(keyArchiveKeyed) != nil {
		return nil
	}
	b := tx.Bucket(bucketSettlements)
	type change struct{ k, v []byte }
	var changes []change
	if err := b.ForEach(func(k, v []byte) error {
		data, changed, err := j.keyRecordFingerprint(string(k), v)
		if changed {
			changes = append(changes, change{bytes.Clone(k), data})
		}
		return err
	}); err != nil {
		return err
	}
	for _, c := range changes {
		if err := b.Put(c.k, c.v); err != nil {
			return err
		}
	}
	if len(changes) > 0 {
		j.log.Info("archive fingerprints keyed", "records", len(changes))
	}
	return meta.Put(keyArchiveKeyed, []byte{1})
}

package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/offline/seal"
)

// The file's layout. The meta bucket exists from the first open (schema
// version 0); everything else is created by migrations.
var (
	bucketMeta        = []byte("meta")
	bucketMigrations  = []byte("migrations")  // in meta: version -> migrationRecord
	bucketSettlements = []byte("settlements") // id -> record, of a settlement under way (all of them before schema 9)
	bucketEnded       = []byte("ended")       // id -> record, of a settlement at its end (schema 9 only)
	bucketByKey       = []byte("by_key")      // idempotency key -> id
	bucketByMsgid     = []byte("by_msgid")    // first msgid of a run -> id, or noSettlement, NUL, last msgid (msgidindex.go)
	bucketBySeq       = []byte("by_seq")      // sequence (8 bytes, big endian) -> end (8 bytes, since schema 10), id
	bucketByState     = []byte("by_state")    // state NUL sequence -> queue entry (queue.go; the id before schema 6); state NUL end -> id at its end (since schema 10)
	bucketValues      = []byte("values")      // name -> value (SetValue/Value)
	bucketCounters    = []byte("counters")    // keyed credential serial (counterKey) -> highest counter (8 bytes)
	// The records of settlements at their end since schema 10 (records.go).
	bucketEndedRecords = []byte("ended_records") // end: the order they ended in (8 bytes, big endian) -> record

	keyFormat     = []byte("format")
	keySchema     = []byte("schema")
	keyKeyCheck   = []byte("key_check")
	keyMsgidClock = []byte("msgid_clock")
	keyReseal     = []byte("reseal")                // set by the v3 migration, cleared when done
	keyAuthentic  = []byte("records_authenticated") // every record is authenticated
	// keyArchiveKeyed, in an archive's meta bucket: its fingerprints are
	// keyed (archives have no schema version of their own).
	keyArchiveKeyed = []byte("fingerprints_keyed")
)

const (
	formatMarker = "medterm-journal"
	// keyCheckText is sealed into meta when the journal is created, so a
	// wrong key is caught at open, before any record is read.
	keyCheckText = "medterm journal key check"
)

// migration brings the file from schema version to-1 to to, in one
// transaction together with the new version number, so a crash leaves
// the file at one version or the next, never in between. A migration that
// needs the journal key (to re-seal or key what it rewrites) sets keyed
// instead of apply.
type migration struct {
	to    int
	name  string
	apply func(*bolt.Tx) error
	keyed func(*Journal, *bolt.Tx) error
}

func (m migration) run(j *Journal, tx *bolt.Tx) error {
	if m.keyed != nil {
		return m.keyed(j, tx)
	}
	return m.apply(tx)
}

// LatestSchema is the schema version this medterm brings every journal
// it opens for writing to.
func LatestSchema() int { return len(migrations) }

// migrations is every schema change, in order. Add to the end; never edit
// an entry once released, since files in the field have already run it.
var migrations = []migration{
	{to: 1, name: "baseline: settlements with key, msgid, sequence and state indexes", apply: baseline},
	{to: 2, name: "named values (policy cache, reports) and credential counters", apply: valuesAndCounters},
	{to: 3, name: "authenticate every record's public fields with its sealing", apply: askReseal},
	{to: 4, name: "key every digest of personal data: request fingerprints and credential counters", keyed: keyDigests},
	{to: 5, name: "two legs: the insurance leg and the payment leg of every settlement", keyed: twoLegs},
	{to: 6, name: "queue entries in the state index (the forwarder and the backlog read no record); records compressed", keyed: queueEntries},
	{to: 7, name: "the number of settlements in each state kept with the records; records compressed against a dictionary", apply: stateCounts},
	{to: 8, name: "msgids indexed by runs, one entry for the msgids a settlement was given one after the other", apply: msgidRuns},
	{to: 9, name: "the records of settlements at their end kept apart from those under way", apply: endedRecords},
	{to: 10, name: "the records of settlements at their end kept in the order they ended in", apply: endedInOrder},
}

// keyDigests replaces the plain SM3 fingerprints of older records, and the
// credential serials that index the counters, by keyed digests (keyed.go):
// without the key, neither can be matched against guesses any more. A
// fingerprint is keyed as it stands, so a request resubmitted under its key
// still matches the settlement it made.
func keyDigests(j *Journal, btx *bolt.Tx) error {
	if b := btx.Bucket(bucketSettlements); b != nil {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			data, changed, err := j.keyRecordFingerprint(string(k), v)
			if err != nil {
				return err
			}
			if changed {
				if err := b.Put(k, data); err != nil {
					return err
				}
			}
		}
	}
	old := btx.Bucket(bucketCounters)
	if old == nil {
		return nil
	}
	keyed := map[string][]byte{}
	if err := old.ForEach(func(serial, v []byte) error {
		keyed[string(j.counterKey(string(serial)))] = bytes.Clone(v)
		return nil
	}); err != nil {
		return err
	}
	if err := btx.DeleteBucket(bucketCounters); err != nil {
		return err
	}
	b, err := btx.CreateBucket(bucketCounters)
	if err != nil {
		return err
	}
	for k, v := range keyed {
		if err := b.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

// askReseal asks for every record to be sealed again with its public
// fields in the associated data. The re-sealing needs the key, which a
// migration does not have: the journal does it right after migrating
// (resealRecords), in one transaction, and a crash before it is done
// leaves the request in place for the next open.
func askReseal(tx *bolt.Tx) error {
	return tx.Bucket(bucketMeta).Put(keyReseal, []byte{1})
}

func valuesAndCounters(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketValues, bucketCounters} {
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

func baseline(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketSettlements, bucketByKey, bucketByMsgid, bucketBySeq, bucketByState} {
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// migrationRecord is kept in meta for every migration a file has run.
type migrationRecord struct {
	Name string    `json:"name"`
	At   time.Time `json:"at"`
}

// fileState is what the first read of a file finds.
type fileState struct {
	meta     bool
	other    bool // buckets that are not ours: another program's bbolt file
	format   string
	version  int
	keyCheck []byte
}

func readState(tx *bolt.Tx) (fileState, error) {
	var st fileState
	err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		if bytes.Equal(name, bucketMeta) {
			st.meta = true
		} else {
			st.other = true
		}
		return nil
	})
	if err != nil || !st.meta {
		return st, err
	}
	meta := tx.Bucket(bucketMeta)
	st.format = string(meta.Get(keyFormat))
	st.keyCheck = bytes.Clone(meta.Get(keyKeyCheck))
	v, err := decodeSeq(meta.Get(keySchema))
	if err != nil {
		return st, fmt.Errorf("%w: schema version: %w", ErrCorrupt, err)
	}
	st.version = int(v)
	return st, nil
}

// init checks what the file holds against what this code knows, loads the
// key, and runs the migrations the file has not run yet.
func (j *Journal) init(migs []migration) error {
	known := migs[len(migs)-1].to
	var st fileState
	if err := j.db.View(func(tx *bolt.Tx) (err error) {
		st, err = readState(tx)
		return err
	}); err != nil {
		return err
	}
	switch {
	case !st.meta && st.other:
		return fmt.Errorf("%w: a bbolt file with another program's data", ErrNotJournal)
	case !st.meta && j.opts.ReadOnly:
		return fmt.Errorf("%w: the file is empty", ErrNotJournal)
	case !st.meta:
		if err := j.loadKey(true); err != nil {
			return err
		}
		if err := j.create(); err != nil {
			return err
		}
	case st.format != formatMarker:
		return fmt.Errorf("%w: format marker %q", ErrNotJournal, st.format)
	case st.version > known:
		return fmt.Errorf("%w: the file is at schema v%d, this medterm knows up to v%d; run the medterm that wrote it, or a newer one (never downgrade over a journal)",
			ErrSchemaTooNew, st.version, known)
	case st.version < known && j.opts.ReadOnly:
		return fmt.Errorf("%w: the file is at schema v%d, this medterm uses v%d; only a read-write open migrates it: start the daemon once",
			ErrSchemaOld, st.version, known)
	case len(st.keyCheck) == 0:
		return fmt.Errorf("%w: the key check is missing from the metadata", ErrCorrupt)
	default:
		if err := j.loadKey(false); err != nil {
			return err
		}
		if _, err := j.sealer.Open(st.keyCheck, keyKeyCheck); err != nil {
			if errors.Is(err, seal.ErrAuth) {
				return fmt.Errorf("%w: %s holds another key than the one this journal was sealed with; restore the right key from its backup",
					ErrWrongKey, j.opts.KeyFile)
			}
			return err
		}
	}
	j.schema = st.version
	if st.meta && st.version < known {
		// An upgrade: the file as the older medterm left it is kept beside
		// it before anything changes, so that a failed or regretted
		// upgrade loses no bill.
		if err := j.backup(st.version); err != nil {
			return err
		}
	}
	if err := j.migrate(migs); err != nil {
		return err
	}
	return j.resealRecords()
}

// backup copies the journal, as it stands, to <path>.v<from>.backup in one
// read transaction, synced before the migration may begin. A backup left
// by an earlier attempt at the same upgrade is kept: it is the older one.
func (j *Journal) backup(from int) error {
	path := fmt.Sprintf("%s.v%d.backup", j.path, from)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("%w: back up before the upgrade: %w", agent.ErrJournal, err)
	}
	err = j.db.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(f)
		return err
	})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncFile(filepath.Dir(path)) // the directory entry too
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("%w: back up before the upgrade from schema v%d, nothing migrated: %w", agent.ErrJournal, from, err)
	}
	j.log.Info("journal backed up before its upgrade", "backup", path, "schema", from)
	return nil
}

// resealRecords finishes the v3 migration: every record sealed again so
// that its public fields are authenticated.
func (j *Journal) resealRecords() error {
	var pending bool
	if err := j.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		pending = meta.Get(keyReseal) != nil
		j.authenticated = meta.Get(keyAuthentic) != nil
		return nil
	}); err != nil {
		return err
	}
	if !pending || j.opts.ReadOnly {
		return nil
	}
	n := 0
	err := j.db.Update(func(btx *bolt.Tx) error {
		t := j.wrap(btx)
		type resealed struct{ id, data []byte }
		var done []resealed
		if err := t.eachRecord(func(id, v []byte, _ uint64) error {
			s, seq, err := j.decodeRecord(string(id), v, true)
			if err != nil {
				return err
			}
			data, err := j.encode(s, seq)
			done = append(done, resealed{bytes.Clone(id), data})
			return err
		}); err != nil {
			return err
		}
		// Written once the walk is over: a bucket changed under its
		// cursor may skip or repeat keys.
		for _, r := range done {
			if err := t.rewriteRecord(r.id, r.data); err != nil {
				return err
			}
			n++
		}
		meta := btx.Bucket(bucketMeta)
		if err := meta.Delete(keyReseal); err != nil {
			return err
		}
		return meta.Put(keyAuthentic, []byte{1})
	})
	if err != nil {
		return fmt.Errorf("%w: authenticate the records: %w", agent.ErrJournal, err)
	}
	j.authenticated = true
	if n > 0 {
		j.log.Info("journal records authenticated", "records", n)
	}
	return nil
}

// create writes the metadata of a new journal: schema version 0, to which
// the migrations then apply.
func (j *Journal) create() error {
	check, err := j.sealer.Seal([]byte(keyCheckText), keyKeyCheck)
	if err != nil {
		return fmt.Errorf("%w key check: %w", agent.ErrJournal, err)
	}
	err = j.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keyFormat, []byte(formatMarker)); err != nil {
			return err
		}
		if err := meta.Put(keyKeyCheck, check); err != nil {
			return err
		}
		return meta.Put(keySchema, encodeSeq(0))
	})
	if err != nil {
		return fmt.Errorf("create %w: %w", agent.ErrJournal, err)
	}
	return nil
}

func (j *Journal) migrate(migs []migration) error {
	for _, m := range migs {
		if m.to <= j.schema {
			continue
		}
		rec, err := json.Marshal(migrationRecord{Name: m.name, At: j.opts.Clock.Now()})
		if err != nil {
			return err
		}
		err = j.db.Update(func(tx *bolt.Tx) error {
			if err := m.run(j, tx); err != nil {
				return err
			}
			meta := tx.Bucket(bucketMeta)
			done, err := meta.CreateBucketIfNotExists(bucketMigrations)
			if err != nil {
				return err
			}
			if err := done.Put(encodeSeq(uint64(m.to)), rec); err != nil {
				return err
			}
			return meta.Put(keySchema, encodeSeq(uint64(m.to)))
		})
		if err != nil {
			return fmt.Errorf("migrate schema v%d to v%d (%s): %w write failed, file left at v%d: %w",
				m.to-1, m.to, m.name, agent.ErrJournal, j.schema, err)
		}
		j.log.Info("journal migrated", "from", m.to-1, "to", m.to, "migration", m.name)
		j.schema = m.to
	}
	return nil
}

// Migrations lists the migrations the file has run, by the version each
// produced.
func (j *Journal) Migrations() (map[int]string, error) {
	out := map[int]string{}
	err := j.db.View(func(tx *bolt.Tx) error {
		done := tx.Bucket(bucketMeta).Bucket(bucketMigrations)
		if done == nil {
			return nil
		}
		return done.ForEach(func(k, v []byte) error {
			n, err := decodeSeq(k)
			if err != nil {
				return fmt.Errorf("%w: migration key: %w", ErrCorrupt, err)
			}
			var r migrationRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("%w: migration v%d: %w", ErrCorrupt, n, err)
			}
			out[int(n)] = r.Name
			return nil
		})
	})
	return out, classify("list migrations", "read failed", err, nil)
}

func encodeSeq(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func decodeSeq(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%d bytes, want 8", len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

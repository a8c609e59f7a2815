package journal

import (
	"bytes"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/sync/protocol"
)

// A run's value keeps only the end of its last msgid where it differs
// from the first; a value written with the whole last msgid, as before,
// reads the same.
func TestARunKeepsOnlyWhatItsLastMsgidChanges(t *testing.T) {
	first := []byte("H44010600001202612021530000001")
	for _, c := range []struct {
		last string
		kept int
	}{
		{"H44010600001202612021530000005", 1}, // the counter
		{"H44010600001202612021530000012", 2}, // both of its digits
		{"H44010600001202612021530010000", 5}, // the next second
		{"H44010600001202612021530000001", 0}, // one msgid: not made, but read
	} {
		v := runValue([]byte("DESK01-00000001"), first, []byte(c.last))
		if n := len(v) - len("DESK01-00000001\x00"); n != c.kept {
			t.Errorf("%s: %d characters kept, want %d", c.last, n, c.kept)
		}
		if got := runLast(first, v); string(got) != c.last {
			t.Errorf("%s: read back as %s", c.last, got)
		}
		whole := append([]byte("DESK01-00000001\x00"), c.last...)
		if got := runLast(first, whole); string(got) != c.last || !bytes.Equal(runOwner(whole), runOwner(v)) {
			t.Errorf("%s written whole: read back as %s", c.last, got)
		}
	}
}

// A write that empties the index (the archive taking every settlement
// out) leaves every leaf of the bucket empty until it commits; a lookup
// after that finds nothing, and returns.
func TestALookupInAnIndexEmptiedByTheSameWriteReturns(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "x.db"), 0o600, &bolt.Options{PageSize: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ms [][]byte
	m := "H44010600001202612021530000000"
	for range 2000 { // some leaves under a branch
		m, _ = protocol.MsgidAfter(m)
		ms = append(ms, []byte(m))
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketByMsgid)
		for _, m := range ms {
			if err == nil {
				err = b.Put(m, []byte("DESK01-00000001"))
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		x := msgidIndex{tx.Bucket(bucketByMsgid)}
		for _, m := range ms {
			if err := x.b.Delete(m); err != nil {
				return err
			}
		}
		if k, _ := x.holding([]byte("H44010600001202612021600000000")); k != nil {
			t.Errorf("an empty index holds %s", k)
		}
		return x.add([]byte("H44010600001202612021600000000"), []byte("DESK01-00000002"))
	}); err != nil {
		t.Fatal(err)
	}
}

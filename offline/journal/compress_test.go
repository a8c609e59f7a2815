package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// Records in the field were compressed against the dictionaries as they
// were released: a changed dictionary would read them as garbage (and
// the sealing would refuse them). A better dictionary is added under the
// next ID, never written over one.
func TestReleasedDictionariesNeverChange(t *testing.T) {
	released := map[int]struct {
		content []byte
		sha256  string
	}{
		1: {recordDictV1, "1f83290e7517ab23427402932ff7c947c512094e62bd757e2493ad737f34dee3"},
	}
	for id, d := range released {
		sum := sha256.Sum256(d.content)
		if got := hex.EncodeToString(sum[:]); got != d.sha256 {
			t.Errorf("dictionary %d changed (sha256 %s): add a new one under the next ID instead", id, got)
		}
	}
	if _, ok := released[recordDictID]; !ok {
		t.Errorf("new records are compressed against dictionary %d, which is not pinned here", recordDictID)
	}
}

// A record of an earlier schema, compressed without a dictionary, still
// reads, beside one compressed against it.
func TestRecordsWithAndWithoutTheDictionaryRead(t *testing.T) {
	rec := []byte(`{"seq":1,"settlement":{"id":"T-00000001","state":"deferred"},"personal":"","auth":1}`)
	plain, err := zstdPlain()
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"with": compress(rec), "without": plain.EncodeAll(rec, nil), "uncompressed": rec} {
		got, err := decompress(data)
		if err != nil || string(got) != string(rec) {
			t.Errorf("%s the dictionary: %q, %v", name, got, err)
		}
	}
	if len(compress(rec)) >= len(plain.EncodeAll(rec, nil)) {
		t.Errorf("the dictionary does not shrink a record: %d B against %d", len(compress(rec)), len(plain.EncodeAll(rec, nil)))
	}
}

func zstdPlain() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
}

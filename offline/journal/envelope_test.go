package journal

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The envelope written by hand is byte for byte what encoding/json
// writes, so that every reader of a record, old or new, reads it; and it
// reads back what was written, also when the settlement itself holds the
// envelope's own words.
func TestTheRecordEnvelopeIsTheJSONOfARecord(t *testing.T) {
	public := []byte(`{"id":"T-00000001","note":"a \",\"personal\":\" inside","nested":{"personal":"x"}}`)
	sealed := []byte{0, 1, 2, 250, 251, 252, '"', '\\'}
	got := appendRecord(nil, 42, public, sealed)
	want, err := json.Marshal(record{Seq: 42, Settlement: public, Personal: sealed, Auth: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("envelope\n%s\nwant\n%s", got, want)
	}
	rec, ok := splitRecord(got)
	if !ok || rec.Seq != 42 || !bytes.Equal(rec.Settlement, public) || !bytes.Equal(rec.Personal, sealed) || rec.Auth != 1 {
		t.Fatalf("read back: %v %+v", ok, rec)
	}
	for _, other := range []string{`{"seq":1,"settlement":{},"personal":"AA=="}`, `{"settlement":{},"seq":1}`, `not json`} {
		if _, ok := splitRecord([]byte(other)); ok {
			t.Errorf("%s taken for a new envelope", other)
		}
	}
}

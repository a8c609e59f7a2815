package journal

import (
	"bytes"
	"testing"
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

package journal_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/offline/journal"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
	"github.com/seed-a859fada/medterm/offline/seal"
)

func TestJournalFileHoldsNoPersonalDataInClear(t *testing.T) {
	j := journaltest.MustOpen(t)
	for _, key := range []string{"his-1", "his-2", "his-3"} {
		s := mustAccept(t, j, key)
		// Updates rewrite the record; the pages they free must not leak
		// an older version either.
		if _, err := j.Update(ctx, s.ID, func(s *agent.Settlement, _ agent.MsgidAllocator) error {
			s.State = agent.StateSettled
			s.Personal.AccountNo = journaltest.Personal.AccountNo
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	j.MustClose()
	raw, err := os.ReadFile(j.Path)
	if err != nil {
		t.Fatal(err)
	}
	// The records as an attacker decompresses them, beside the file.
	db, err := bolt.Open(j.Path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		for _, name := range []string{"settlements", "ended_records"} { // under way and ended
			if err := tx.Bucket([]byte(name)).ForEach(func(_, v []byte) error {
				plain, err := journal.Decompress(v)
				raw = append(raw, plain...)
				return err
			}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// The scan must be able to fail: the bill, which is not personal, is
	// there in clear.
	if !bytes.Contains(raw, []byte("MZ20260302-0042")) {
		t.Fatal("the bill's visit number is not in the file: the scan reads the wrong thing")
	}
	p := journaltest.Personal
	for field, v := range map[string]string{
		"cert_no": p.CertNo, "id_no": p.IDNo, "name": p.Name, "card_sn": p.CardSN,
		"psn_no": p.PsnNo, "account_no": p.AccountNo,
	} {
		// As UTF-8, and as a JSON encoder that escapes non-ASCII would
		// write it.
		for _, form := range []string{v, toUnicodeEscapes(v)} {
			if bytes.Contains(raw, []byte(form)) {
				t.Errorf("the journal file contains the %s %q in clear", field, form)
			}
		}
	}
}

// toUnicodeEscapes writes non-ASCII runes of s as JSON \uXXXX escapes.
func toUnicodeEscapes(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			b.WriteRune(r)
			continue
		}
		b.WriteString(`\u`)
		const hex = "0123456789abcdef"
		b.WriteByte(hex[r>>12&0xf])
		b.WriteByte(hex[r>>8&0xf])
		b.WriteByte(hex[r>>4&0xf])
		b.WriteByte(hex[r&0xf])
	}
	return b.String()
}

func TestNewJournalAndItsKeyArePrivate(t *testing.T) {
	j := journaltest.MustOpen(t)
	fi, err := os.Stat(j.Options.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != seal.KeySize {
		t.Errorf("key file holds %d bytes, want %d", fi.Size(), seal.KeySize)
	}
	if runtime.GOOS != "windows" {
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("key file mode %04o, want 0600", perm)
		}
		di, _ := os.Stat(filepath.Dir(j.Options.KeyFile))
		if perm := di.Mode().Perm(); perm != 0o700 {
			t.Errorf("key directory mode %04o, want 0700", perm)
		}
		ji, _ := os.Stat(j.Path)
		if perm := ji.Mode().Perm(); perm != 0o600 {
			t.Errorf("journal file mode %04o, want 0600", perm)
		}
	}
}

func TestNewJournalUsesAProvisionedKey(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "provisioned.key")
	want, err := seal.CreateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	j := journaltest.MustOpen(t, func(o *journal.Options) { o.KeyFile = keyFile })
	mustAccept(t, j, "his-1")
	j.MustReopen()
	if got, _ := seal.LoadKey(keyFile); got != want {
		t.Fatal("the provisioned key was replaced")
	}
}

func TestOpenWithTheWrongKeyFails(t *testing.T) {
	cases := []struct {
		name  string
		spoil func(t *testing.T, keyFile string)
		want  []error
		says  string
	}{
		{"another key", func(t *testing.T, keyFile string) {
			os.Remove(keyFile)
			if _, err := seal.CreateKey(keyFile); err != nil {
				t.Fatal(err)
			}
		}, []error{journal.ErrWrongKey, agent.ErrJournal}, "another key"},
		{"no key", func(t *testing.T, keyFile string) { os.Remove(keyFile) },
			[]error{seal.ErrKeyMissing, agent.ErrJournal}, "restore it from its backup"},
		{"a key others can read", func(t *testing.T, keyFile string) {
			if runtime.GOOS == "windows" {
				t.Skip("mode bits do not apply on Windows; ACLs protect the key there")
			}
			os.Chmod(keyFile, 0o644)
		}, []error{seal.ErrKeyExposed, agent.ErrJournal}, "chmod 600"},
		{"a truncated key", func(t *testing.T, keyFile string) { os.Truncate(keyFile, 8) },
			[]error{seal.ErrKeyMalformed, agent.ErrJournal}, "8 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := journaltest.MustOpen(t)
			mustAccept(t, j, "his-1")
			j.MustClose()
			before, _ := os.ReadFile(j.Path)
			c.spoil(t, j.Options.KeyFile)
			keyBefore, _ := os.ReadFile(j.Options.KeyFile)

			_, err := journal.Open(j.Path, j.Options)
			for _, want := range c.want {
				if !errors.Is(err, want) {
					t.Errorf("error %v, want %v", err, want)
				}
			}
			if err != nil && (!strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), j.Options.KeyFile)) {
				t.Errorf("error %q does not name the key file and say %q", err, c.says)
			}
			after, _ := os.ReadFile(j.Path)
			keyAfter, _ := os.ReadFile(j.Options.KeyFile)
			if !bytes.Equal(before, after) || !bytes.Equal(keyBefore, keyAfter) {
				t.Error("a refused open changed the journal or the key file")
			}
		})
	}
}

// A sealed blob is bound to its settlement's id: copied onto another
// record it does not open, and the journal says so instead of returning
// another patient's data.
func TestSealedFieldsMovedToAnotherRecordAreRefused(t *testing.T) {
	j := journaltest.MustOpen(t)
	a := mustAccept(t, j, "his-1")
	b := mustAccept(t, j, "his-2")
	j.MustClose()

	db, err := bolt.Open(j.Path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		bucket := tx.Bucket([]byte("settlements"))
		var ra, rb map[string]json.RawMessage
		pa, _ := journal.Decompress(bucket.Get([]byte(a.ID)))
		pb, _ := journal.Decompress(bucket.Get([]byte(b.ID)))
		json.Unmarshal(pa, &ra)
		json.Unmarshal(pb, &rb)
		ra["personal"], rb["personal"] = rb["personal"], ra["personal"]
		da, _ := json.Marshal(ra)
		db, _ := json.Marshal(rb)
		da, db = journal.Compress(da), journal.Compress(db)
		if err := bucket.Put([]byte(a.ID), da); err != nil {
			return err
		}
		return bucket.Put([]byte(b.ID), db)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	j.MustReopen()
	for _, id := range []string{a.ID, b.ID} {
		if _, err := j.Get(ctx, id); !errors.Is(err, journal.ErrCorrupt) || !errors.Is(err, seal.ErrAuth) {
			t.Errorf("Get %s: %v, want ErrCorrupt from a failed authentication", id, err)
		}
	}
	err = j.Verify(ctx)
	if !errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), a.ID) || !strings.Contains(err.Error(), b.ID) {
		t.Errorf("Verify: %v, want both records reported", err)
	}
}

func TestOpenRefusesFilesThatAreNotJournals(t *testing.T) {
	cases := []struct {
		name  string
		write func(t *testing.T, path string)
	}{
		{"random bytes", func(t *testing.T, path string) {
			os.WriteFile(path, bytes.Repeat([]byte("not a database "), 1000), 0o600)
		}},
		{"another program's bbolt file", func(t *testing.T, path string) {
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			db.Update(func(tx *bolt.Tx) error {
				_, err := tx.CreateBucket([]byte("widgets"))
				return err
			})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "journal.db")
			c.write(t, path)
			before, _ := os.ReadFile(path)
			o := journal.Options{KeyFile: filepath.Join(dir, "journal.key"), Institution: "H44010600001", IDPrefix: "DESK01"}
			if _, err := journal.Open(path, o); !errors.Is(err, journal.ErrNotJournal) || !errors.Is(err, agent.ErrJournal) {
				t.Fatalf("error %v, want ErrNotJournal", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("the foreign file was changed")
			}
			if _, err := os.Stat(o.KeyFile); !errors.Is(err, fs.ErrNotExist) {
				t.Error("a key was created for a file that is not a journal")
			}
		})
	}
}

package journal_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"
	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/agenttest"
	"github.com/seed-a859fada/medterm/agent/idno"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/offline/journal"
	"github.com/seed-a859fada/medterm/offline/journal/journaltest"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// The attack: someone holds a copy of journal.db (a backup, a stolen
// disk), not its key. Personal fields are sealed, so the attacker goes
// after everything derived from them: the request fingerprints, the
// index keys, any digest. Two kinds of knowledge are assumed, both cheap:
//   - brute force over ID numbers: the region and a birth window are
//     guessable, and a 3-digit sequence and a check digit are all that is
//     left (some tens of thousands of candidates here, a few million for
//     a whole region and year: seconds either way);
//   - a leaked list of patients (ID number, name, card number, card
//     identifier, QR credential serial), as a HIS extract would give: a
//     file that links a bill to one person on the list names the patient.
//
// testdata/v3 is a journal written by schema v3 (the last with plain SM3
// fingerprints and serials in clear) holding three settled bills: by ID
// number, by social-security card, by QR code (with the code's counter).
// All personal data in it is invented.

// patient is one person of the leaked list.
type patient struct {
	IDNo, Name, CardNo, CardSN, Serial string
}

func withCheck(first17 string) string {
	c, err := idno.CheckChar(first17)
	if err != nil {
		panic(err)
	}
	return first17 + string(c)
}

// The fixture's patients, and decoys from the same list.
var (
	idPatient   = patient{IDNo: withCheck("44190019750614031")}
	cardPatient = patient{IDNo: withCheck("44190019880217046"), Name: "林小梅", CardNo: "D44196321", CardSN: "441900D156000005A1B2C3D4E5F60718"}
	qrPatient   = patient{Serial: "00000000075bcd15"}
	leakedList  = []patient{
		cardPatient, qrPatient,
		{IDNo: withCheck("44190019880217054"), Name: "林小梅", CardNo: "D44196322", CardSN: "441900D156000005A1B2C3D4E5F60719", Serial: "00000000075bcd16"},
		{IDNo: withCheck("44190019700101001"), Name: "陈建国", CardNo: "D44190001", CardSN: "441900D156000005000000000000F001", Serial: "8f3a9b2c4d5e6f70"},
	}
)

// fixtureBills are the bills of testdata/v3, by idempotency key.
var fixtureBills = map[string]agent.SettleRequest{
	"HIS-ID-1":   {IdempotencyKey: "HIS-ID-1", Identity: agent.IdentityInput{CertType: protocol.CertIDNo, CertNo: idPatient.IDNo}, Bill: fixtureBill("MZ101", 1250)},
	"HIS-CARD-1": {IdempotencyKey: "HIS-CARD-1", Identity: agent.IdentityInput{CertType: protocol.CertSSCard, CertNo: cardPatient.CardNo, Name: cardPatient.Name, IDNo: cardPatient.IDNo, CardSN: cardPatient.CardSN}, Bill: fixtureBill("MZ102", 3300)},
	"HIS-QR-1":   {IdempotencyKey: "HIS-QR-1", Identity: agent.IdentityInput{CertType: protocol.CertQR, CertNo: "YB1:EXAMPLE-DYNAMIC-CODE-TEXT-0001"}, Bill: fixtureBill("MZ103", 880)},
}

func fixtureBill(visit string, price money.Fen) agent.Bill {
	return agent.Bill{VisitNo: visit, DeptCode: "A03", DoctorID: "D017", Items: []agent.FeeItem{{Code: "XA01", Class: "01", Quantity: money.QuantityOf(2), UnitPriceFen: price, Amount: 2 * price}}}
}

// recovered is what the attack learnt: who each bill (by idempotency key)
// belongs to, and which credential serials it found.
type recovered struct {
	bills   map[string]string
	serials []string
}

func TestTheV3SchemeGaveEveryPatientAwayFromTheFileAlone(t *testing.T) {
	// The attack must be able to succeed, or its failure on the new scheme
	// proves nothing.
	dir := copyFixture(t)
	got := attack(t, filepath.Join(dir, "journal.db"))
	want := map[string]string{"HIS-ID-1": idPatient.IDNo, "HIS-CARD-1": cardPatient.IDNo}
	for key, who := range want {
		if got.bills[key] != who {
			t.Errorf("v3 journal: bill %s not traced to its patient (got %q): the attack is broken", key, got.bills[key])
		}
	}
	if len(got.serials) != 1 || got.serials[0] != qrPatient.Serial {
		t.Errorf("v3 journal: QR credential serials found %v, want %s: the attack is broken", got.serials, qrPatient.Serial)
	}
	// A v3 archive holds the same records.
	arch := filepath.Join(dir, "archive.db")
	writeV3Archive(t, filepath.Join(dir, "journal.db"), arch)
	if got := attack(t, arch); got.bills["HIS-ID-1"] != idPatient.IDNo || got.bills["HIS-CARD-1"] != cardPatient.IDNo {
		t.Errorf("v3 archive: bills traced %v: the attack is broken", got.bills)
	}
}

func TestAJournalMigratedToV4GivesNobodyAwayAndStillKnowsItsBills(t *testing.T) {
	dir := copyFixture(t)
	path := filepath.Join(dir, "journal.db")
	arch := filepath.Join(dir, "archive.db")
	writeV3Archive(t, path, arch)

	j := journaltest.MustOpenAt(t, path, func(o *journal.Options) { o.KeyFile = filepath.Join(dir, "journal.key") })
	if j.Schema() < 4 {
		t.Fatalf("schema v%d after opening a v3 journal", j.Schema())
	}
	// The archive is keyed the first time the journal archives, whether or
	// not anything moves.
	if _, err := j.Archive(context.Background(), time.Time{}, arch, 0); err != nil {
		t.Fatal(err)
	}

	// Still the same journal: every bill found by its key, a resubmission
	// of the same request is the same settlement, another bill under the
	// key is refused, and a used QR counter is still refused.
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: fixtureInsurance(), Clock: j.Clock})
	ctx := context.Background()
	for key, req := range fixtureBills {
		req.Operator = agent.Operator{ID: "W01", Type: protocol.OpterClerk}
		st, created, err := svc.Settle(ctx, req)
		if err != nil || created || st.State != agent.StateSettled {
			t.Errorf("%s resubmitted after the migration: %v, created %v, %+v; want the settlement it made", key, err, created, st)
		}
		req.Bill.Items[0].Quantity, req.Bill.Items[0].Amount = money.QuantityOf(3), 3*req.Bill.Items[0].UnitPriceFen
		if _, _, err := svc.Settle(ctx, req); !errors.Is(err, agent.ErrIdempotencyConflict) {
			t.Errorf("%s reused for another bill after the migration: %v, want an idempotency conflict", key, err)
		}
	}
	if err := j.Advance(ctx, qrPatient.Serial, 3); !errors.Is(err, agent.ErrReplayed) {
		t.Errorf("counter 3 of %s again after the migration: %v, want replayed", qrPatient.Serial, err)
	}
	if err := j.Advance(ctx, qrPatient.Serial, 4); err != nil {
		t.Errorf("counter 4 after the migration: %v", err)
	}
	j.MustClose()

	for _, f := range []string{path, arch} {
		if got := attack(t, f); len(got.bills) > 0 || len(got.serials) > 0 {
			t.Errorf("%s after the migration: bills traced %v, serials found %v; want none", filepath.Base(f), got.bills, got.serials)
		}
	}
}

func TestANewJournalGivesNobodyAway(t *testing.T) {
	j := journaltest.MustOpen(t)
	svc := agent.NewService(agent.ServiceConfig{Journal: j, Insurance: fixtureInsurance(), Clock: j.Clock})
	ctx := context.Background()
	for _, req := range fixtureBills {
		req.Operator = agent.Operator{ID: "W01", Type: protocol.OpterClerk}
		if st, _, err := svc.Settle(ctx, req); err != nil || st.State != agent.StateSettled {
			t.Fatalf("%s: %v %+v", req.IdempotencyKey, err, st)
		}
	}
	if err := j.Advance(ctx, qrPatient.Serial, 3); err != nil {
		t.Fatal(err)
	}
	j.MustClose()
	// The journal as it stands, before archiving empties it.
	dir := t.TempDir()
	copied := filepath.Join(dir, "journal.db")
	b, err := os.ReadFile(j.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copied, b, 0o600); err != nil {
		t.Fatal(err)
	}
	j.MustReopen()
	arch := filepath.Join(dir, "archive.db")
	if n, err := j.Archive(ctx, j.Clock.Now().Add(time.Hour), arch, 0); err != nil || n != len(fixtureBills) {
		t.Fatalf("archive: %d, %v", n, err)
	}
	j.MustClose()
	for _, f := range []string{copied, arch} {
		if got := attack(t, f); len(got.bills) > 0 || len(got.serials) > 0 {
			t.Errorf("%s: bills traced %v, serials found %v; want none", filepath.Base(f), got.bills, got.serials)
		}
	}
}

// attack reads the bbolt file at path without its key and returns every
// patient it can trace.
func attack(t *testing.T, path string) recovered {
	t.Helper()
	loot := readLoot(t, path)
	out := recovered{bills: map[string]string{}}
	// A value derived from a candidate: in clear, or as a plain digest.
	found := func(v string) bool {
		if v == "" {
			return false
		}
		if loot.strings[v] {
			return true
		}
		s, h := sm3.Sum([]byte(v)), sha256.Sum256([]byte(v))
		return loot.strings[hex.EncodeToString(s[:])] || loot.strings[hex.EncodeToString(h[:])]
	}
	for _, r := range loot.records {
		switch r.certType {
		case protocol.CertIDNo:
			for _, cand := range idCandidates() {
				if r.fingerprint == v3Fingerprint(v3Identity{CertType: r.certType, CertNo: cand}, r.bill) || found(cand) {
					out.bills[r.key] = cand
					break
				}
			}
		case protocol.CertSSCard:
			for _, p := range leakedList {
				id := v3Identity{CertType: r.certType, CertNo: p.CardNo, Name: p.Name, IDNo: p.IDNo, CardSN: p.CardSN}
				if r.fingerprint == v3Fingerprint(id, r.bill) || found(p.IDNo) || found(p.CardNo) {
					out.bills[r.key] = p.IDNo
				}
			}
		}
	}
	for _, p := range leakedList {
		if p.Serial != "" && found(p.Serial) {
			out.serials = append(out.serials, p.Serial)
		}
	}
	return out
}

// idCandidates are the ID numbers of the region born in the birth window
// the attacker guesses: every sequence, with its check digit.
func idCandidates() []string {
	var out []string
	for _, window := range []struct{ from, to string }{{"19750601", "19750630"}, {"19880201", "19880229"}} {
		from, _ := time.Parse("20060102", window.from)
		to, _ := time.Parse("20060102", window.to)
		for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
			for seq := range 1000 {
				out = append(out, withCheck("441900"+d.Format("20060102")+leftPad(seq)))
			}
		}
	}
	return out
}

func leftPad(n int) string { return strings.Repeat("0", 3-len(strconv.Itoa(n))) + strconv.Itoa(n) }

// v3Identity is the identity as schema v3's fingerprint encoded it.
type v3Identity struct {
	CertType   string `json:"cert_type"`
	CertNo     string `json:"cert_no"`
	Name       string `json:"name,omitempty"`
	IDNo       string `json:"id_no,omitempty"`
	CardSN     string `json:"card_sn,omitempty"`
	CardReader string `json:"card_reader,omitempty"`
	Scan       string `json:"scan,omitempty"`
}

// v3Fingerprint is schema v3's fingerprint: SM3 of the identity and the
// bill as the record holds it in clear.
func v3Fingerprint(id v3Identity, bill json.RawMessage) string {
	b, _ := json.Marshal(struct {
		Identity v3Identity      `json:"identity"`
		Bill     json.RawMessage `json:"bill"`
	}{id, bill})
	sum := sm3.Sum(b)
	return hex.EncodeToString(sum[:])
}

// loot is everything readable in a bbolt file without the key.
type loot struct {
	strings map[string]bool // every key and value, and every string in a record's public JSON
	records []lootRecord
}

type lootRecord struct {
	key, certType, fingerprint string
	bill                       json.RawMessage
}

func readLoot(t *testing.T, path string) loot {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := loot{strings: map[string]bool{}}
	var walk func(b *bolt.Bucket, name string) error
	walk = func(b *bolt.Bucket, name string) error {
		return b.ForEach(func(k, v []byte) error {
			l.strings[string(k)] = true
			l.strings[hex.EncodeToString(k)] = true
			if v == nil {
				return walk(b.Bucket(k), string(k))
			}
			l.strings[string(v)] = true
			if name == "settlements" || name == "ended_records" {
				l.readRecord(t, v)
			}
			return nil
		})
	}
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(b, string(name)) })
	}); err != nil {
		t.Fatal(err)
	}
	if len(l.records) == 0 {
		t.Fatalf("%s: no settlement records read: the attack reads the wrong thing", path)
	}
	return l
}

func (l *loot) readRecord(t *testing.T, v []byte) {
	v, err := journal.Decompress(v)
	if err != nil {
		t.Fatalf("record: %v", err)
	}
	l.strings[string(v)] = true
	var rec struct {
		Settlement json.RawMessage `json:"settlement"`
	}
	if err := json.Unmarshal(v, &rec); err != nil {
		t.Fatalf("record: %v", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(rec.Settlement, &fields); err != nil {
		t.Fatalf("record: %v", err)
	}
	str := func(name string) string {
		var s string
		_ = json.Unmarshal(fields[name], &s)
		return s
	}
	l.records = append(l.records, lootRecord{key: str("idempotency_key"), certType: str("cert_type"), fingerprint: str("fingerprint"), bill: fields["bill"]})
	dec := json.NewDecoder(bytes.NewReader(rec.Settlement))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("record: %v", err)
		}
		if s, ok := tok.(string); ok {
			l.strings[s] = true
		}
	}
}

// copyFixture copies testdata/v3 (journal and key) to a fresh directory.
func copyFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"journal.db", "journal.key"} {
		b, err := os.ReadFile(filepath.Join("testdata", "v3", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// writeV3Archive writes an archive as schema v3 would have: the journal's
// records copied as they are.
func writeV3Archive(t *testing.T, journalPath, archivePath string) {
	t.Helper()
	src, err := bolt.Open(journalPath, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := bolt.Open(archivePath, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	err = src.View(func(stx *bolt.Tx) error {
		return dst.Update(func(dtx *bolt.Tx) error {
			// Records under way and ended alike, by id in the archive's one
			// bucket.
			for _, name := range []string{"settlements", "by_key"} {
				b, err := dtx.CreateBucketIfNotExists([]byte(name))
				if err != nil {
					return err
				}
				if err := stx.Bucket([]byte(name)).ForEach(func(k, v []byte) error { return b.Put(k, v) }); err != nil {
					return err
				}
			}
			ended := stx.Bucket([]byte("ended_records"))
			if ended == nil { // a journal before schema 10
				return nil
			}
			// The sequence index leads to them: the end, then the id.
			return stx.Bucket([]byte("by_seq")).ForEach(func(_, v []byte) error {
				if rec := ended.Get(v[:8]); rec != nil {
					return dtx.Bucket([]byte("settlements")).Put(v[8:], rec)
				}
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// fixtureInsurance is a platform that knows the fixture's patients.
func fixtureInsurance() *agenttest.Insurance {
	ins := agenttest.NewInsurance()
	ins.Model.AddPerson(idPatient.IDNo, "", "", "")
	ins.Model.AddPerson(cardPatient.IDNo, cardPatient.Name, cardPatient.CardNo, cardPatient.CardSN)
	ins.Model.AcceptToken(fixtureBills["HIS-QR-1"].Identity.CertNo, agenttest.DefaultIDNo)
	return ins
}

package personas

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/seed-a859fada/medterm/agent/idno"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

func mustDefault(t *testing.T) *Dataset {
	t.Helper()
	d, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDefaultDataSetHasEveryRuleKey(t *testing.T) {
	d := mustDefault(t)
	for _, key := range []string{
		"acct-first", "bank-card", "credit-fallback", "insufficient", "low-limit", "daily-limit",
		"family-signer", "family-child", "family-confirm", "no-agreement", "elderly-no-credit",
		"resident-390", "deductible-met", "near-cap", "not-insured", "card-expired", "card-blocked",
		"opaque-only", "revoked-phone",
	} {
		p, ok := d.ByKey(key)
		if !ok {
			t.Errorf("no persona %q", key)
			continue
		}
		if p.About == "" {
			t.Errorf("persona %q has no about line", key)
		}
	}
}

func TestDefaultDataSetIDNumbersAreValid(t *testing.T) {
	for _, p := range mustDefault(t).People {
		if err := idno.Check(p.Certno); err != nil {
			t.Errorf("%s: %v", p.Key, err)
		}
	}
}

// Card readers decode names as GB18030; a name that GBK cannot hold
// proves they do not stop at GBK. 䶮 (no-agreement) is such a character
// for a strict GBK reader, but x/text's GBK shares GB18030-2005's two-byte
// table and accepts it, so the test looks for a four-byte character.
func TestDefaultDataSetHasANameBeyondGBK(t *testing.T) {
	gbk := simplifiedchinese.GBK.NewEncoder()
	gb18030 := simplifiedchinese.GB18030.NewEncoder()
	found := false
	for _, p := range mustDefault(t).People {
		if _, err := gb18030.String(p.Name); err != nil {
			t.Errorf("%s: name not encodable in GB18030: %v", p.Key, err)
		}
		if _, err := gbk.String(p.Name); err != nil {
			found = true
		}
	}
	if !found {
		t.Fatal("no persona has a name that needs GB18030 beyond GBK")
	}
	if p, _ := mustDefault(t).ByKey("no-agreement"); !strings.ContainsRune(p.Name, '䶮') {
		t.Errorf("no-agreement's name %q lost its 䶮", p.Name)
	}
}

func TestDefaultDataSetCards(t *testing.T) {
	d := mustDefault(t)
	on := time.Date(2026, 11, 23, 10, 0, 0, 0, protocol.CST)
	var expired, blocked int
	versions := map[string]bool{}
	for _, p := range d.People {
		if p.Card == nil {
			continue
		}
		versions[p.Card.Version] = true
		if p.Card.Expired(on) {
			expired++
		}
		if p.Card.Status == CardBlocked {
			blocked++
		}
		if got, ok := d.ByCardNo(p.Card.CardNo); !ok || got != &d.People[indexOf(d, p.Key)] {
			t.Errorf("%s: card not indexed", p.Key)
		}
	}
	if expired != 1 || blocked != 1 {
		t.Errorf("expired cards %d, blocked %d; want one of each", expired, blocked)
	}
	for _, v := range []string{"1.00", "2.00", "3.00"} {
		if !versions[v] {
			t.Errorf("no card of version %s", v)
		}
	}
}

func indexOf(d *Dataset, key string) int {
	for i := range d.People {
		if d.People[i].Key == key {
			return i
		}
	}
	return -1
}

func TestCardIsValidThroughItsExpiryDay(t *testing.T) {
	c := &Card{ExpiryDate: "2026-11-23"}
	for _, tt := range []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 11, 23, 23, 59, 59, 0, protocol.CST), false},
		{time.Date(2026, 11, 24, 0, 0, 0, 0, protocol.CST), true},
		// 16:30 UTC on the 23rd is already the 24th in CST.
		{time.Date(2026, 11, 23, 16, 30, 0, 0, time.UTC), true},
	} {
		if got := c.Expired(tt.at); got != tt.want {
			t.Errorf("Expired(%s) = %v, want %v", tt.at, got, tt.want)
		}
	}
}

func TestFamilyLinksAreIndexedWithTheirSigner(t *testing.T) {
	d := mustDefault(t)
	signer, _ := d.ByKey("family-signer")
	for key, mode := range map[string]string{"family-child": protocol.FamilyFrictionless, "family-confirm": protocol.FamilyConfirmFirst} {
		p, _ := d.ByKey(key)
		l, ok := d.CoveredBy(p.PsnNo)
		if !ok || l.Signer != signer.PsnNo || l.Mode != mode {
			t.Errorf("%s covered by %+v, %v; want signer %s mode %s", key, l, ok, signer.PsnNo, mode)
		}
	}
	p, _ := d.ByKey("no-agreement")
	if _, ok := d.CoveredBy(p.PsnNo); ok {
		t.Error("no-agreement is covered by someone")
	}
}

func TestRulesComeFromThePolicySection(t *testing.T) {
	r := mustDefault(t).Rules()
	if r.Insurance["310"].Deductible != 50000 || r.Insurance["390"].RatioPct != 50 || r.LimitPerTxn != 30000 || r.LimitDaily != 100000 {
		t.Fatalf("rules = %+v", r)
	}
}

func TestMarshalRoundTrips(t *testing.T) {
	d := mustDefault(t)
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(b)
	if err != nil {
		t.Fatalf("re-parse: %v", err)
	}
	if len(again.People) != len(d.People) {
		t.Fatalf("people %d, want %d", len(again.People), len(d.People))
	}
}

// edit decodes the default data set into generic JSON, applies fn and
// encodes it again, so each refusal test changes exactly one thing.
func edit(t *testing.T, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(defaultData, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func person(m map[string]any, key string) map[string]any {
	for _, p := range m["people"].([]any) {
		if pm := p.(map[string]any); pm["key"] == key {
			return pm
		}
	}
	panic("no persona " + key)
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(m map[string]any)
		want    error
		message string
	}{
		{"a newer version", func(m map[string]any) { m["version"] = Version + 1 }, ErrVersion, "newer"},
		{"no version", func(m map[string]any) { delete(m, "version") }, ErrVersion, "no version"},
		{"an unknown field", func(m map[string]any) { m["colour"] = "blue" }, ErrInvalid, "colour"},
		{"an ID number with a wrong check digit", func(m map[string]any) {
			p := person(m, "acct-first")
			id := p["certno"].(string)
			last := byte('0')
			if id[17] == '0' {
				last = '1'
			}
			p["certno"] = id[:17] + string(last)
		}, idno.ErrCheckDigit, "acct-first"},
		{"a birth date that is not the ID number's", func(m map[string]any) { person(m, "acct-first")["birth_date"] = "1975-04-13" }, ErrInvalid, "birth_date"},
		{"a gender that is not the ID number's", func(m map[string]any) { person(m, "acct-first")["gender"] = "2" }, ErrInvalid, "gender"},
		{"an account on resident insurance", func(m map[string]any) { person(m, "resident-390")["account_balance"] = 1 }, ErrInvalid, "no personal account"},
		{"an amount with three decimals", func(m map[string]any) { person(m, "acct-first")["account_balance"] = json.Number("1.001") }, ErrInvalid, ""},
		{"a bank source without a card", func(m map[string]any) {
			delete(person(m, "bank-card")["agreement"].(map[string]any), "bank_card")
		}, ErrInvalid, "bank_card"},
		{"an unknown source", func(m map[string]any) {
			person(m, "acct-first")["agreement"].(map[string]any)["sources"] = []any{"cash"}
		}, ErrInvalid, "unknown source"},
		{"a cousin as family", func(m map[string]any) {
			person(m, "family-signer")["family"].([]any)[0].(map[string]any)["relation"] = "cousin"
		}, ErrInvalid, "cousin"},
		{"a family member covered twice", func(m map[string]any) {
			f := person(m, "family-signer")["family"].([]any)
			f[1].(map[string]any)["member"] = f[0].(map[string]any)["member"]
		}, ErrInvalid, "already covered"},
		{"a signer without an agreement", func(m map[string]any) {
			delete(person(m, "family-signer"), "agreement")
		}, ErrInvalid, "without an agreement"},
		{"a card identifier without the application id", func(m map[string]any) {
			person(m, "acct-first")["card"].(map[string]any)["card_sn"] = strings.Repeat("A", 32)
		}, ErrInvalid, "card_sn"},
		{"a card of an unknown version", func(m map[string]any) {
			person(m, "acct-first")["card"].(map[string]any)["version"] = "4.00"
		}, ErrInvalid, "version"},
		{"a duplicate key", func(m map[string]any) { person(m, "bank-card")["key"] = "acct-first" }, ErrInvalid, "key used twice"},
		{"a short institution code", func(m map[string]any) {
			m["institutions"].([]any)[0].(map[string]any)["code"] = "H4419"
		}, ErrInvalid, "institution code"},
		{"a PSAM key of 15 bytes", func(m map[string]any) {
			m["platform"].(map[string]any)["psam"].(map[string]any)["master_key"] = strings.Repeat("AB", 15)
		}, ErrInvalid, "master_key"},
		{"a PSAM key id of 0", func(m map[string]any) {
			m["platform"].(map[string]any)["psam"].(map[string]any)["key_id"] = 0
		}, ErrInvalid, "key_id"},
		{"a birthplace of 4 digits", func(m map[string]any) { person(m, "acct-first")["birthplace"] = "4419" }, ErrInvalid, "birthplace"},
		{"a nation of letters", func(m map[string]any) { person(m, "acct-first")["nation"] = "HA" }, ErrInvalid, "nation"},
		{"a phone of an unknown algorithm", func(m map[string]any) {
			person(m, "acct-first")["phone"] = map[string]any{"alg": "rsa"}
		}, ErrInvalid, "alg"},
		{"a phone of an unknown issuer", func(m map[string]any) {
			person(m, "acct-first")["phone"] = map[string]any{"alg": "ed25519", "issuer": "next"}
		}, ErrInvalid, "issuer"},
		{"an opaque phone with an algorithm", func(m map[string]any) {
			person(m, "opaque-only")["phone"] = map[string]any{"opaque": true, "alg": "ed25519"}
		}, ErrInvalid, "opaque"},
		{"a phone in a version 1 file", func(m map[string]any) {
			m["version"] = 1
			delete(m["platform"].(map[string]any), "psam")
			for _, p := range m["people"].([]any) {
				delete(p.(map[string]any), "birthplace")
			}
		}, ErrInvalid, "phone needs version 2"},
		{"a ratio over 100%", func(m map[string]any) {
			m["policy"].(map[string]any)["insurance"].(map[string]any)["310"].(map[string]any)["ratio_pct"] = 120
		}, ErrInvalid, "ratio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(edit(t, tt.edit))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("message %q does not mention %q", err, tt.message)
			}
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	_, err := Load(t.TempDir() + "/missing.json")
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("Load = %v", err)
	}
}

// A version 1 file, as state files of older sandboxes store it, is read:
// it has no PSAM key, birthplaces or phones.
func TestVersion1FilesAreRead(t *testing.T) {
	d, err := Parse(edit(t, func(m map[string]any) {
		m["version"] = 1
		delete(m["platform"].(map[string]any), "psam")
		for _, p := range m["people"].([]any) {
			delete(p.(map[string]any), "birthplace")
			delete(p.(map[string]any), "phone")
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := d.PSAMKey(); ok {
		t.Error("a version 1 file has a PSAM key")
	}
	for _, p := range d.People {
		if p.Phone != nil {
			t.Errorf("%s has a phone", p.Key)
		}
	}
}

func TestDefaultDataSetPhones(t *testing.T) {
	d := mustDefault(t)
	master, keyID, ok := d.PSAMKey()
	if !ok || len(master) != 16 || keyID != 4 || !strings.Contains(d.Platform.PSAM.About, "test key") {
		t.Errorf("PSAM key: %x, id %d, %v; about %q", master, keyID, ok, d.Platform.PSAM.About)
	}
	kinds := map[string]int{}
	without := 0
	for _, p := range d.People {
		switch ph := p.Phone; {
		case ph == nil:
			without++
		case ph.Opaque:
			kinds["opaque"]++
		default:
			kinds[ph.Alg+"/"+ph.IssuerRole()]++
			if ph.Revoked {
				kinds["revoked"]++
			}
		}
	}
	for _, k := range []string{"opaque", "revoked", "ed25519/current", "ed25519/previous", "sm2-sm3/current", "sm2-sm3/previous"} {
		if kinds[k] == 0 {
			t.Errorf("no persona's phone is %s", k)
		}
	}
	if without*2 >= len(d.People) {
		t.Errorf("%d of %d personas have no phone; most should", without, len(d.People))
	}
	for key, want := range map[string]bool{"opaque-only": true, "revoked-phone": false} {
		p, _ := d.ByKey(key)
		if p.Phone == nil || p.Phone.Opaque != want {
			t.Errorf("%s: phone %+v", key, p.Phone)
		}
	}
}

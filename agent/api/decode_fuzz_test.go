package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent/api/strictjson"
)

var fuzzSeeds = []string{
	`{"identity":{"cert_type":"02","cert_no":"11010519491231002X","name":"陈建国"},
	 "operator":{"id":"W01","type":"1","name":"李收费"},"mode":"force_offline",
	 "bill":{"visit_no":"MZ1","dept_code":"A03","dept_name":"内科","doctor_id":"D1","doctor_name":"王医生",
	   "items":[{"code":"X1","hosp_code":"H1","name":"阿莫西林","class":"01","quantity":2,"unit_price_fen":1250,"amount_fen":2500}]}}`,
	`{"identity":{"scan":"latest"},"operator":{"id":"K1","type":"2"},"bill":{"items":[]}}`,
	`{"identity":{"cert_type":"02","cert_no":"1","cert_no":"2"}}`,
	`{"bill":{"items":[{"amount_fen":1,"amount_fen":2}]}}`,
	`{"bill":{"items":[],"ITEMS":[]}}`,
	`{"bill":{"Items":[]}}`,
	`{"bill":{"visit_no":"a","visit\u005fno":"b"}}`,
	"{\"bill\":{\"visit_no\":\"MZ\xff\"}}",
	`{"operator":{"id":"W\u0000"}}`,
	`{"identity":{"name":"\ud83d\ude00\ud800"}}`,
	`{"bill":{"items":[{"quantity":1e2,"unit_price_fen":-0,"amount_fen":9223372036854775807}]}}`,
	`{"mode":null,"bill":null,"identity":{}}`,
	`{} {}`,
	`[{"a":1}]`,
	``,
}

// FuzzDecodeSettleBody holds the settlement body decoder to its promise:
// it never panics; what it accepts is what encoding/json reads, survives
// encoding and decoding again unchanged, and has no key twice.
func FuzzDecodeSettleBody(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), uint8(0))
	}
	f.Add([]byte("{\"identity\":{\"name\":\"\xb3\xc2\xbd\xa8\xb9\xfa\"}}"), uint8(1)) // 陈建国 in GBK
	f.Add([]byte("{\"identity\":{\"name\":\"\x81\x20\"}}"), uint8(2))
	f.Fuzz(checkDecode)
}

// checkDecode is the fuzz target's body: data in the charset cs selects.
func checkDecode(t *testing.T, data []byte, cs uint8) {
	t.Helper()
	types := []string{"application/json", "application/json; charset=gbk", "application/json; charset=gb18030"}
	ct := types[int(cs)%len(types)]
	var body SettleBody
	err := decodeJSON(ct, bytes.NewReader(data), &body)
	if err != nil {
		if _, code, msg := decodeError(err); code == "" || msg == "" {
			t.Fatalf("refusal without a code or message: %v", err)
		}
		return
	}
	text := data
	if name, ok := strings.CutPrefix(ct, "application/json; charset="); ok {
		if text, err = toUTF8(charsets[name], data); err != nil {
			t.Fatalf("accepted a body that is not %s", ct)
		}
	}
	if hasDuplicateKey(text) {
		t.Fatalf("accepted a duplicate key: %q", text)
	}
	var lenient SettleBody
	if err := json.Unmarshal(text, &lenient); err != nil || !reflect.DeepEqual(body, lenient) {
		t.Fatalf("encoding/json reads it otherwise (%v): %+v; strict %+v", err, lenient, body)
	}
	again, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	var back SettleBody
	if err := decodeJSON("application/json", bytes.NewReader(again), &back); err != nil {
		t.Fatalf("its own encoding is refused: %v: %s", err, again)
	}
	if !reflect.DeepEqual(body, back) {
		t.Fatalf("decoded %+v; after a round trip %+v", body, back)
	}
	// The same body with one key given twice, at the top and inside.
	for _, dup := range [][]byte{
		append([]byte(`{"identity":{},`), again[1:]...),
		bytes.Replace(again, []byte(`"bill":{`), []byte(`"bill":{"visit_no":"",`), 1),
	} {
		var d SettleBody
		if err := decodeJSON("application/json", bytes.NewReader(dup), &d); !errors.Is(err, strictjson.ErrDuplicateKey) {
			t.Fatalf("a duplicate key gave %v: %s", err, dup)
		}
	}
}

// hasDuplicateKey reports whether some object in data, read as
// encoding/json reads it, has a key twice. It is the fuzz test's own
// judge, written apart from strictjson so that one cannot share a bug
// with the other.
func hasDuplicateKey(data []byte) bool {
	type frame struct {
		keys    map[string]bool // nil for an array
		wantKey bool
	}
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			k, _ := tok.(string)
			if stack[n-1].keys[k] {
				return true
			}
			stack[n-1].keys[k] = true
			stack[n-1].wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		valueDone()
	}
}

func TestTheFuzzJudgeFindsDuplicates(t *testing.T) {
	for in, want := range map[string]bool{
		`{"a":1,"b":{"a":2}}`:              false,
		`{"a":1,"a":2}`:                    true,
		`[{"a":[{}]},{"x":{"a":1,"a":2}}]`: true,
		`{"a":{"b":1},"c":[1,{"b":2}]}`:    false,
		`{"a\u0062":1,"ab":2}`:             true,
	} {
		if got := hasDuplicateKey([]byte(in)); got != want {
			t.Errorf("hasDuplicateKey(%s) = %v; want %v", in, got, want)
		}
	}
}

package strictjson_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent/api/strictjson"
)

type item struct {
	Code  string `json:"code"`
	Price int64  `json:"price"`
	Count uint8  `json:"count,omitempty"`
}

type base struct {
	Note string `json:"note,omitempty"`
}

type doc struct {
	base
	Name   string            `json:"name"`
	Items  []item            `json:"items"`
	Tags   map[string]string `json:"tags,omitempty"`
	Ratio  float64           `json:"ratio,omitempty"`
	OK     bool              `json:"ok,omitempty"`
	Extra  json.RawMessage   `json:"extra,omitempty"`
	Hidden string            `json:"-"`
}

const good = `{"name":"陈建国","items":[{"code":"X1","price":1250},{"code":"X2","price":-3,"count":2}],
 "tags":{"a":"b"},"ratio":1.5e2,"ok":true,"note":"n","extra":{"any":[1,{"x":null}]}}`

func TestAcceptsWhatEncodingJSONReadsTheSame(t *testing.T) {
	for _, in := range []string{
		good,
		`{}`,
		`null`,
		` {"name":null,"items":null} `,
		`{"name":"\u9648\ud83d\ude00\/\n","items":[]}`,
		`{"name":"\ufffd literal U+FFFD is a character: �"}`,
	} {
		var got, want doc
		if err := strictjson.Unmarshal([]byte(in), &got); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %+v; encoding/json reads %+v", in, got, want)
		}
	}
}

func TestRefusesWhatAStrictReaderMust(t *testing.T) {
	cases := []struct {
		name string
		in   string
		err  error
		path string
	}{
		{"duplicate key", `{"name":"a","name":"b"}`, strictjson.ErrDuplicateKey, "name"},
		{"duplicate key in an array element", `{"items":[{"code":"a"},{"price":1,"price":2}]}`, strictjson.ErrDuplicateKey, "items[1].price"},
		{"duplicate spelled with an escape", `{"items":[{"code":"a","c\u006fde":"b"}]}`, strictjson.ErrDuplicateKey, "items[0].code"},
		{"duplicate promoted field", `{"note":"a","note":"b"}`, strictjson.ErrDuplicateKey, "note"},
		{"duplicate map key", `{"tags":{"k":"1","k":"2"}}`, strictjson.ErrDuplicateKey, "tags.*"},
		{"duplicate in an untyped value", `{"extra":{"k":1,"k":2}}`, strictjson.ErrDuplicateKey, "extra.*"},
		{"key in another case", `{"Items":[]}`, strictjson.ErrKeyCase, "items"},
		{"key in upper case after the right one", `{"items":[],"ITEMS":[]}`, strictjson.ErrKeyCase, "items"},
		{"Kelvin sign folds to k", `{"items":[{"\u212Aode":"x"}]}`, strictjson.ErrUnknownField, "items[0]"},
		{"unknown field", `{"items":[{"colour":"red"}]}`, strictjson.ErrUnknownField, "items[0]"},
		{"ignored field by its Go name", `{"Hidden":"x"}`, strictjson.ErrUnknownField, ""},
		{"invalid UTF-8 in a value", "{\"name\":\"a\xff\"}", strictjson.ErrInvalidUTF8, "name"},
		{"invalid UTF-8 in a key", "{\"na\xc3me\":\"a\"}", strictjson.ErrInvalidUTF8, ""},
		{"overlong encoding", "{\"name\":\"\xc0\xaf\"}", strictjson.ErrInvalidUTF8, "name"},
		{"surrogate encoded as UTF-8", "{\"name\":\"\xed\xa0\x80\"}", strictjson.ErrInvalidUTF8, "name"},
		{"lone high surrogate escape", `{"name":"\ud800"}`, strictjson.ErrInvalidUTF8, "name"},
		{"lone low surrogate escape", `{"name":"\udc00x"}`, strictjson.ErrInvalidUTF8, "name"},
		{"high surrogate before a non-surrogate", `{"name":"\ud800\u0041"}`, strictjson.ErrInvalidUTF8, "name"},
		{"NUL in a value", `{"items":[{"code":"X\u0000"}]}`, strictjson.ErrNUL, "items[0].code"},
		{"NUL in a key", `{"name\u0000":"x"}`, strictjson.ErrNUL, ""},
		{"NUL in a map value", `{"tags":{"a":"\u0000"}}`, strictjson.ErrNUL, "tags.*"},
		{"string for an integer", `{"items":[{"price":"12.50"}]}`, strictjson.ErrType, "items[0].price"},
		{"fraction for an integer", `{"items":[{"price":12.5}]}`, strictjson.ErrType, "items[0].price"},
		{"exponent for an integer", `{"items":[{"price":1e3}]}`, strictjson.ErrType, "items[0].price"},
		{"integer out of range", `{"items":[{"price":9223372036854775808}]}`, strictjson.ErrType, "items[0].price"},
		{"negative unsigned", `{"items":[{"count":-1}]}`, strictjson.ErrType, "items[0].count"},
		{"unsigned out of range", `{"items":[{"count":256}]}`, strictjson.ErrType, "items[0].count"},
		{"number for a string", `{"name":7}`, strictjson.ErrType, "name"},
		{"object for an array", `{"items":{}}`, strictjson.ErrType, "items"},
		{"string for a bool", `{"ok":"true"}`, strictjson.ErrType, "ok"},
		{"array for the document", `[]`, strictjson.ErrType, ""},
		{"trailing data", `{}{}`, strictjson.ErrTrailingData, ""},
		{"empty", " \n", strictjson.ErrEmpty, ""},
		{"trailing comma", `{"name":"a",}`, strictjson.ErrSyntax, ""},
		{"leading zero", `{"items":[{"price":01}]}`, strictjson.ErrSyntax, ""},
		{"bare minus", `{"ratio":-}`, strictjson.ErrSyntax, ""},
		{"control character in a string", "{\"name\":\"a\tb\"}", strictjson.ErrSyntax, ""},
		{"bad escape", `{"name":"\x41"}`, strictjson.ErrSyntax, ""},
		{"short unicode escape", `{"name":"\u41"}`, strictjson.ErrSyntax, ""},
		{"unterminated", `{"name":"a`, strictjson.ErrSyntax, ""},
		{"single quotes", `{'name':'a'}`, strictjson.ErrSyntax, ""},
		{"byte order mark", "\xef\xbb\xbf{}", strictjson.ErrSyntax, ""},
		{"too deep", `{"extra":` + strings.Repeat("[", strictjson.MaxDepth) + strings.Repeat("]", strictjson.MaxDepth) + `}`, strictjson.ErrTooDeep, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d doc
			err := strictjson.Unmarshal([]byte(c.in), &d)
			var se *strictjson.Error
			if !errors.Is(err, c.err) || !errors.As(err, &se) {
				t.Fatalf("Unmarshal = %v; want %v", err, c.err)
			}
			if c.path != "" && se.Path != c.path {
				t.Fatalf("path %q; want %q (%v)", se.Path, c.path, err)
			}
		})
	}
}

func TestErrorsNameTheFieldNeverTheValue(t *testing.T) {
	for _, in := range []string{
		`{"name":"a","name":"陈建国"}`,
		`{"陈建国":"x"}`,
		`{"tags":{"陈建国":"1","陈建国":"2"}}`,
		`{"name":{"陈建国":1}}`,
		`{"items":[{"price":"陈建国"}]}`,
		`{"items":[{"count":110105194912310021}]}`,
	} {
		var d doc
		err := strictjson.Unmarshal([]byte(in), &d)
		if err == nil {
			t.Fatalf("%s: accepted", in)
		}
		if msg := err.Error(); strings.Contains(msg, "陈建国") || strings.Contains(msg, "110105194912310021") {
			t.Fatalf("%s: message %q holds the value", in, msg)
		}
	}
	var d doc
	err := strictjson.Unmarshal([]byte(`{"items":[{"colour":"red"}]}`), &d)
	if want := "items[0]: unknown field: expected one of code, count, price"; err == nil || err.Error() != want {
		t.Fatalf("message %q; want %q", err, want)
	}
}

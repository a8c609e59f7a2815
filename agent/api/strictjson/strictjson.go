// Package strictjson gives a JSON document one reading. encoding/json is
// lenient where two readers of the same bytes can disagree: it takes the
// last of two equal keys, matches keys to fields case-insensitively,
// turns invalid UTF-8 and lone surrogate escapes into U+FFFD, and lets
// NUL through. A HIS and the agent must never disagree about which
// patient or what amount a bill names, so Check walks the document once
// against the shape of the Go type it is for and refuses all of that,
// naming the field (never the value) in its error. Unmarshal then leaves
// the decoding itself to encoding/json.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds nesting. The API's bodies are four levels deep; the
// bound keeps a hostile document from costing stack.
const MaxDepth = 32

// Unmarshal checks data with Check against v's type and, if it passes,
// decodes it into v, which must be a non-nil pointer.
func Unmarshal(data []byte, v any) error {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return errors.New("strictjson: Unmarshal needs a pointer")
	}
	if err := Check(data, t.Elem()); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// Check admits only what decodes; this is a gap in Check, and
		// encoding/json's own text may quote the value, so it is dropped.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &Error{Path: te.Field, Offset: int(te.Offset), Err: ErrType}
		}
		return &Error{Err: ErrSyntax}
	}
	return nil
}

// Check reports the first thing in data that a strict reader of a value of
// type t must refuse, as an *Error; nil if there is none. Beyond JSON's
// grammar (RFC 8259) it refuses: a key twice in one object; a key that is
// not spelled exactly as one of the struct's JSON field names; a string,
// key or value, that is not valid UTF-8, holds a lone surrogate escape or
// holds NUL; a value of the wrong JSON type for its field, and an integer
// with a fraction, an exponent or out of its field's range; nesting over
// MaxDepth; anything after the value.
func Check(data []byte, t reflect.Type) error {
	sc := &scanner{data: data}
	sc.skipSpace()
	if sc.pos == len(data) {
		return &Error{Offset: sc.pos, Err: ErrEmpty}
	}
	if err := sc.value(schemaOf(t)); err != nil {
		return err
	}
	sc.skipSpace()
	if sc.pos != len(data) {
		return &Error{Offset: sc.pos, Err: ErrTrailingData}
	}
	return nil
}

// scanner is one pass over a document. path is where it is, kept as a
// stack so that it is rendered only when there is an error to report.
type scanner struct {
	data []byte
	pos  int
	path []step
	key  []byte // the current key, decoded; reused
}

// step is one level of the path: a field name, or an array index.
type step struct {
	name  string
	index int // when name is ""
}

func (sc *scanner) pathString() string {
	var b strings.Builder
	for i, st := range sc.path {
		switch {
		case st.name == "":
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(st.index))
			b.WriteByte(']')
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(st.name)
		}
	}
	return b.String()
}

func (sc *scanner) fail(at int, err error, want string) *Error {
	return &Error{Path: sc.pathString(), Offset: at, Err: err, Want: want}
}

func (sc *scanner) syntax() *Error {
	return &Error{Offset: sc.pos, Err: ErrSyntax}
}

func (sc *scanner) skipSpace() {
	for sc.pos < len(sc.data) {
		switch sc.data[sc.pos] {
		case ' ', '\t', '\n', '\r':
			sc.pos++
		default:
			return
		}
	}
}

// value reads one value that must fit s.
func (sc *scanner) value(s *schema) error {
	sc.skipSpace()
	start := sc.pos
	if err := sc.shape(s); err != nil || s.unmarshaler == nil {
		return err
	}
	v := reflect.New(s.unmarshaler).Interface().(json.Unmarshaler)
	if err := v.UnmarshalJSON(sc.data[start:sc.pos]); err != nil {
		// Its own words may quote the value: only the field is named.
		return sc.fail(start, ErrType, "the decimal number this field takes")
	}
	return nil
}

// shape checks the value at the scanner against s's shape.
func (sc *scanner) shape(s *schema) error {
	if sc.pos == len(sc.data) {
		return sc.syntax()
	}
	start := sc.pos
	switch c := sc.data[sc.pos]; {
	case c == '{':
		if s.kind != kindObject && s.kind != kindMap && s.kind != kindAny {
			return sc.fail(start, ErrType, s.want())
		}
		return sc.object(s)
	case c == '[':
		if s.kind != kindArray && s.kind != kindAny {
			return sc.fail(start, ErrType, s.want())
		}
		return sc.array(s)
	case c == '"':
		if err := sc.str(false); err != nil {
			return err
		}
		if s.kind != kindString && s.kind != kindAny {
			return sc.fail(start, ErrType, s.want())
		}
		return nil
	case c == 't' || c == 'f':
		if !sc.literal("true") && !sc.literal("false") {
			return sc.syntax()
		}
		if s.kind != kindBool && s.kind != kindAny {
			return sc.fail(start, ErrType, s.want())
		}
		return nil
	case c == 'n':
		// null leaves any field as it was, as encoding/json does.
		if !sc.literal("null") {
			return sc.syntax()
		}
		return nil
	case c == '-' || '0' <= c && c <= '9':
		num, integral, err := sc.number()
		if err != nil {
			return err
		}
		return sc.checkNumber(s, start, num, integral)
	}
	return sc.syntax()
}

func (sc *scanner) literal(word string) bool {
	if bytes.HasPrefix(sc.data[sc.pos:], []byte(word)) {
		sc.pos += len(word)
		return true
	}
	return false
}

func (sc *scanner) checkNumber(s *schema, start int, num []byte, integral bool) error {
	switch s.kind {
	case kindAny, kindNumber:
		return nil
	case kindInt:
		if integral {
			if _, err := strconv.ParseInt(string(num), 10, s.bits); err == nil {
				return nil
			}
		}
	case kindUint:
		if integral {
			if _, err := strconv.ParseUint(string(num), 10, s.bits); err == nil {
				return nil
			}
		}
	}
	want := s.want()
	if s.kind == kindInt || s.kind == kindUint {
		want = "an integer in range"
	}
	return sc.fail(start, ErrType, want)
}

// number reads a number by RFC 8259's grammar and reports whether it is
// written as an integer (no fraction, no exponent).
func (sc *scanner) number() ([]byte, bool, error) {
	d, start := sc.data, sc.pos
	i := start
	if i < len(d) && d[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case digits() == 0:
		sc.pos = i
		return nil, false, sc.syntax()
	}
	integral := true
	if i < len(d) && d[i] == '.' {
		i++
		integral = false
		if digits() == 0 {
			sc.pos = i
			return nil, false, sc.syntax()
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		integral = false
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if digits() == 0 {
			sc.pos = i
			return nil, false, sc.syntax()
		}
	}
	sc.pos = i
	return d[start:i], integral, nil
}

func (sc *scanner) object(s *schema) error {
	if len(sc.path) >= MaxDepth {
		return sc.fail(sc.pos, ErrTooDeep, "")
	}
	sc.pos++ // {
	sc.skipSpace()
	if sc.pos < len(sc.data) && sc.data[sc.pos] == '}' {
		sc.pos++
		return nil
	}
	seen := map[string]struct{}{}
	for {
		sc.skipSpace()
		if sc.pos == len(sc.data) || sc.data[sc.pos] != '"' {
			return sc.syntax()
		}
		keyAt := sc.pos
		if err := sc.str(true); err != nil {
			return err
		}
		// The field is named by the type's spelling, never the caller's:
		// in a map or an untyped value the key is data and shows as "*".
		child, name := anySchema, "*"
		if s.kind == kindMap {
			child = s.elem
		}
		if s.kind == kindObject {
			fs, ok := s.fields[string(sc.key)]
			if !ok {
				return sc.unknownField(s, keyAt)
			}
			child, name = fs, string(sc.key)
		}
		if _, dup := seen[string(sc.key)]; dup {
			sc.path = append(sc.path, step{name: name})
			return sc.fail(keyAt, ErrDuplicateKey, "")
		}
		seen[string(sc.key)] = struct{}{}
		sc.skipSpace()
		if sc.pos == len(sc.data) || sc.data[sc.pos] != ':' {
			return sc.syntax()
		}
		sc.pos++
		sc.path = append(sc.path, step{name: name})
		if err := sc.value(child); err != nil {
			return err
		}
		sc.path = sc.path[:len(sc.path)-1]
		if done, err := sc.afterMember('}'); done || err != nil {
			return err
		}
	}
}

// afterMember reads what follows a member of an object or an array: a
// comma, and another member is due, or the closer, and the value is done.
func (sc *scanner) afterMember(closer byte) (done bool, err error) {
	sc.skipSpace()
	if sc.pos == len(sc.data) {
		return false, sc.syntax()
	}
	switch sc.data[sc.pos] {
	case ',':
		sc.pos++
		return false, nil
	case closer:
		sc.pos++
		return true, nil
	}
	return false, sc.syntax()
}

// unknownField reports the key just read, which names no field of s. A
// key that encoding/json would have matched to a field regardless of case
// is reported under that field's own name.
func (sc *scanner) unknownField(s *schema, at int) error {
	for name := range s.fields {
		if strings.EqualFold(name, string(sc.key)) {
			sc.path = append(sc.path, step{name: name})
			return sc.fail(at, ErrKeyCase, "")
		}
	}
	return sc.fail(at, ErrUnknownField, "one of "+s.names)
}

func (sc *scanner) array(s *schema) error {
	if len(sc.path) >= MaxDepth {
		return sc.fail(sc.pos, ErrTooDeep, "")
	}
	sc.pos++ // [
	sc.skipSpace()
	if sc.pos < len(sc.data) && sc.data[sc.pos] == ']' {
		sc.pos++
		return nil
	}
	elem := s.elem
	if elem == nil {
		elem = anySchema
	}
	for i := 0; ; i++ {
		sc.path = append(sc.path, step{index: i})
		if err := sc.value(elem); err != nil {
			return err
		}
		sc.path = sc.path[:len(sc.path)-1]
		if done, err := sc.afterMember(']'); done || err != nil {
			return err
		}
	}
}

// str reads a string, refusing invalid UTF-8, lone surrogates and NUL. If
// key is set it decodes the string into sc.key, for comparison with
// other keys and field names: "cert\u005fno" is cert_no, to encoding/json
// and so to this check. A bad key is reported at its object's path: the
// field it was meant to name is not known.
func (sc *scanner) str(key bool) error {
	d := sc.data
	start := sc.pos
	sc.pos++ // "
	if key {
		sc.key = sc.key[:0]
	}
	for {
		if sc.pos >= len(d) {
			return sc.syntax()
		}
		c := d[sc.pos]
		switch {
		case c == '"':
			sc.pos++
			return nil
		case c < 0x20:
			return sc.syntax()
		case c == '\\':
			r, err := sc.escape(start)
			if err != nil {
				return err
			}
			if key {
				sc.key = utf8.AppendRune(sc.key, r)
			}
		case c < utf8.RuneSelf:
			sc.pos++
			if key {
				sc.key = append(sc.key, c)
			}
		default:
			r, size := utf8.DecodeRune(d[sc.pos:])
			if r == utf8.RuneError && size == 1 {
				return sc.fail(start, ErrInvalidUTF8, "")
			}
			if key {
				sc.key = append(sc.key, d[sc.pos:sc.pos+size]...)
			}
			sc.pos += size
		}
	}
}

// escape reads one escape sequence at sc.pos and returns its character.
func (sc *scanner) escape(start int) (rune, error) {
	d := sc.data
	if sc.pos+1 >= len(d) {
		return 0, sc.syntax()
	}
	c := d[sc.pos+1]
	sc.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
	default:
		sc.pos -= 2
		return 0, sc.syntax()
	}
	r, ok := sc.hex4()
	if !ok {
		return 0, sc.syntax()
	}
	switch {
	case r == 0:
		return 0, sc.fail(start, ErrNUL, "")
	case utf16.IsSurrogate(r):
		// Only a high surrogate followed by a low one is a character;
		// encoding/json turns anything else into U+FFFD.
		if r >= 0xDC00 || !bytes.HasPrefix(d[sc.pos:], []byte(`\u`)) {
			return 0, sc.fail(start, ErrInvalidUTF8, "")
		}
		sc.pos += 2
		lo, ok := sc.hex4()
		if !ok {
			return 0, sc.syntax()
		}
		if lo < 0xDC00 || lo > 0xDFFF {
			return 0, sc.fail(start, ErrInvalidUTF8, "")
		}
		return utf16.DecodeRune(r, lo), nil
	}
	return r, nil
}

func (sc *scanner) hex4() (rune, bool) {
	if sc.pos+4 > len(sc.data) {
		return 0, false
	}
	var r rune
	for _, c := range sc.data[sc.pos : sc.pos+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	sc.pos += 4
	return r, true
}

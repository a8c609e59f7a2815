package acp

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Fields is one message: each field once, values as text.
type Fields map[string]string

// Clone returns a copy of f.
func (f Fields) Clone() Fields {
	out := make(Fields, len(f))
	for k, v := range f {
		out[k] = v
	}
	return out
}

// Encode writes the fields as an application/x-www-form-urlencoded body.
// Empty fields are left out, as ACP's SDKs filter blanks before signing.
func (f Fields) Encode() string {
	v := url.Values{}
	for k, s := range f {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

// Decode reads a form-encoded body. A field given twice, an empty name, or
// a value that would make the canonical string ambiguous (see Canonical)
// is a format error: a message must have one reading only.
func Decode(body string) (Fields, error) {
	v, err := url.ParseQuery(body)
	if err != nil {
		return nil, fmt.Errorf("form body: %w: %v", ErrFormat, err)
	}
	f := make(Fields, len(v))
	for k, vs := range v {
		switch {
		case k == "":
			return nil, fmt.Errorf("form body: %w: a field without a name", ErrFormat)
		case len(vs) != 1:
			return nil, fmt.Errorf("form body: %w: field %s given %d times", ErrFormat, k, len(vs))
		}
		if err := checkValue(k, vs[0]); err != nil {
			return nil, err
		}
		if vs[0] != "" {
			f[k] = vs[0]
		}
	}
	return f, nil
}

// checkValue refuses a value with '&' or '=' unless it is one brace bag
// ("{k=v&k=v}", ACP's form for sub-fields) with no braces inside. Without
// this rule "a=1&b=2" could be read as one field a = "1&b=2" or two, and
// a signature over the canonical string would cover both readings.
func checkValue(k, v string) error {
	if strings.ContainsAny(k, "&={}") {
		return fmt.Errorf("form body: %w: field name %q", ErrFormat, k)
	}
	if !strings.ContainsAny(v, "&={}") {
		return nil
	}
	if len(v) >= 2 && v[0] == '{' && v[len(v)-1] == '}' && !strings.ContainsAny(v[1:len(v)-1], "{}") {
		return nil
	}
	if k == FSignature || k == FFileContent || k == FCustomerInfo || k == FAccNo {
		// base64 text: '=' is its padding, and these are not bags.
		if !strings.ContainsAny(v, "&{}") {
			return nil
		}
	}
	return fmt.Errorf("form body: %w: field %s has '&', '=' or braces outside one {…} bag", ErrFormat, k)
}

// Canonical is the string a signature covers: every non-empty field but
// the signature, sorted by name, as name=value joined by '&', values as
// they are (not URL-escaped), as ACP's SDKs build it.
func (f Fields) Canonical() string {
	keys := make([]string, 0, len(f))
	for k, v := range f {
		if k != FSignature && v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(f[k])
	}
	return b.String()
}

// Bag writes sub-fields as ACP's brace form, in the order given:
// Bag("trId", "62000000001", "token", "6235...") is
// "{trId=62000000001&token=6235...}". Empty values are left out. A value
// that holds '&', '=' or a brace cannot be written.
func Bag(kv ...string) (string, error) {
	if len(kv)%2 != 0 {
		return "", fmt.Errorf("bag: %w: odd number of arguments", ErrFormat)
	}
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		if v == "" {
			continue
		}
		if strings.ContainsAny(k+v, "&={}") {
			return "", fmt.Errorf("bag: %w: %s holds '&', '=' or a brace", ErrFormat, k)
		}
		if n > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		n++
	}
	b.WriteByte('}')
	return b.String(), nil
}

// ParseBag reads a brace bag. Sub-fields given twice are a format error.
func ParseBag(s string) (map[string]string, error) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, fmt.Errorf("bag %q: %w: not in braces", s, ErrFormat)
	}
	out := map[string]string{}
	inner := s[1 : len(s)-1]
	if inner == "" {
		return out, nil
	}
	for _, part := range strings.Split(inner, "&") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("bag: %w: %q is not name=value", ErrFormat, part)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("bag: %w: %s given twice", ErrFormat, k)
		}
		out[k] = v
	}
	return out, nil
}

package strictjson

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// kind is what a JSON value must be to decode into a Go type.
type kind uint8

const (
	kindAny    kind = iota // interface or custom unmarshaler: any well-formed value
	kindString             // string, or a type read from a JSON string
	kindNumber             // float
	kindInt                // signed integer: no fraction, no exponent, in range
	kindUint               // unsigned integer: as kindInt, not negative
	kindBool
	kindArray  // slice or array of elem
	kindObject // struct: fields
	kindMap    // map of elem: any keys
)

// schema is the shape of a Go type as encoding/json reads it.
type schema struct {
	kind   kind
	bits   int                // size of an integer kind
	elem   *schema            // arrays and maps
	fields map[string]*schema // structs, by exact JSON name
	names  string             // the field names, for messages
	// unmarshaler is a type that reads its own JSON (a quantity, a
	// price): the value is handed to it during the check, so that its
	// refusal names the field like any other.
	unmarshaler reflect.Type
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	anySchema           = &schema{kind: kindAny}
	schemas             sync.Map // reflect.Type → *schema
)

// schemaOf returns the shape of t, computed once per type.
func schemaOf(t reflect.Type) *schema {
	if s, ok := schemas.Load(t); ok {
		return s.(*schema)
	}
	s := build(t, map[reflect.Type]*schema{})
	schemas.Store(t, s)
	return s
}

// build follows encoding/json's rules for which JSON a type accepts.
// seen makes recursive types terminate: a type met again while being
// built is the schema already under construction.
func build(t reflect.Type, seen map[reflect.Type]*schema) *schema {
	if s, ok := seen[t]; ok {
		return s
	}
	if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(unmarshalerType) {
		return &schema{kind: kindAny, unmarshaler: t}
	}
	if t.Implements(unmarshalerType) {
		return anySchema
	}
	if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(textUnmarshalerType) || t.Implements(textUnmarshalerType) {
		return &schema{kind: kindString}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return build(t.Elem(), seen)
	case reflect.String:
		return &schema{kind: kindString}
	case reflect.Bool:
		return &schema{kind: kindBool}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &schema{kind: kindInt, bits: t.Bits()}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return &schema{kind: kindUint, bits: t.Bits()}
	case reflect.Float32, reflect.Float64:
		return &schema{kind: kindNumber}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return &schema{kind: kindString} // []byte travels as base64
		}
		s := &schema{kind: kindArray}
		seen[t] = s
		s.elem = build(t.Elem(), seen)
		return s
	case reflect.Array:
		s := &schema{kind: kindArray}
		seen[t] = s
		s.elem = build(t.Elem(), seen)
		return s
	case reflect.Map:
		s := &schema{kind: kindMap}
		seen[t] = s
		s.elem = build(t.Elem(), seen)
		return s
	case reflect.Struct:
		s := &schema{kind: kindObject, fields: map[string]*schema{}}
		seen[t] = s
		addFields(s, t, seen)
		names := make([]string, 0, len(s.fields))
		for n := range s.fields {
			names = append(names, n)
		}
		slices.Sort(names)
		s.names = strings.Join(names, ", ")
		return s
	}
	return anySchema
}

// addFields adds t's JSON fields to s, promoting those of embedded
// structs. A field of the outer struct wins over a promoted one of the
// same name, which is the case that matters in practice.
func addFields(s *schema, t reflect.Type, seen map[reflect.Type]*schema) {
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs := build(ft, seen)
		if hasOption(opts, "string") && (fs.kind == kindInt || fs.kind == kindUint || fs.kind == kindNumber || fs.kind == kindBool || fs.kind == kindString) {
			fs = &schema{kind: kindString}
		}
		s.fields[name] = fs
	}
	for _, et := range embedded {
		inner := &schema{fields: map[string]*schema{}}
		addFields(inner, et, seen)
		for n, fs := range inner.fields {
			if _, ok := s.fields[n]; !ok {
				s.fields[n] = fs
			}
		}
	}
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// want names what a kind of value must be, for messages.
func (s *schema) want() string {
	switch s.kind {
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindInt, kindUint:
		return "an integer"
	case kindBool:
		return "true or false"
	case kindArray:
		return "an array"
	case kindObject, kindMap:
		return "an object"
	}
	return "a value"
}

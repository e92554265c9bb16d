package r4

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// The walker checks client JSON against the Go types of this package before encoding/json
// decodes it. encoding/json alone would silently drop unknown elements, match names without
// regard to case, take the last of duplicate keys and accept null: all things FHIR forbids
// (FHIR R4 §2.6.2 "JSON Representation of Resources") and that would let a client's document
// mean one thing to us and another to the next system that reads it.
type walker struct {
	maxDepth int
}

var (
	typeOfExtension  = reflect.TypeOf(Extension{})
	typeOfRawMessage = reflect.TypeOf(json.RawMessage(nil))
	typeOfNumber     = reflect.TypeOf(json.Number(""))
)

// field is what the walker knows of one JSON element of a struct.
type field struct {
	typ     reflect.Type
	checker lexicalChecker // nil for plain strings
}

type structFields struct {
	byName   map[string]field
	required []string // elements with a minimum cardinality of 1: those without omitempty
}

var fieldCache sync.Map // reflect.Type → *structFields

// fieldsOf reads the JSON elements of a struct from its tags. By the convention of this
// package, an element without omitempty is required by FHIR.
func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	sf := &structFields{byName: map[string]field{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" || tag == "" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fi := field{typ: f.Type}
		if c, ok := reflect.Zero(f.Type).Interface().(lexicalChecker); ok {
			fi.checker = c
		}
		sf.byName[name] = fi
		if opts != "omitempty" {
			sf.required = append(sf.required, name)
		}
	}
	f, _ := fieldCache.LoadOrStore(t, sf)
	return f.(*structFields)
}

// document walks a whole JSON text holding one resource of struct type t named rt.
func (w *walker) document(data []byte, t reflect.Type, rt, path string, depth int) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := w.object(dec, t, path, depth, rt); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return decodeErr(IssueStructure, path, "unexpected data after the resource")
	}
	return nil
}

func (w *walker) token(dec *json.Decoder, path string) (json.Token, error) {
	tok, err := dec.Token()
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, decodeErr(IssueStructure, path, "malformed JSON at byte %d", se.Offset)
		}
		return nil, decodeErr(IssueStructure, path, "malformed JSON")
	}
	if tok == nil {
		return nil, decodeErr(IssueStructure, path, "null is not allowed in FHIR JSON")
	}
	return tok, nil
}

func (w *walker) enter(path string, depth int) (int, error) {
	depth++
	if depth > w.maxDepth {
		return depth, decodeErr(IssueTooCostly, path, "nested deeper than %d levels", w.maxDepth)
	}
	return depth, nil
}

// kind names a JSON token for error messages, without its value.
func kind(tok json.Token) string {
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '{' {
			return "an object"
		}
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

// elementNameRE is the shape of a FHIR element name (and of a primitive's "_name").
var elementNameRE = regexp.MustCompile(`^_?[A-Za-z][A-Za-z0-9]{0,63}$`)

// elementName is key for use in an error's location, unless it does not look like an element
// name: a client could put anything in a key, and errors must not echo what it sent.
func elementName(key string) string {
	if elementNameRE.MatchString(key) {
		return key
	}
	return "(invalid name)"
}

// value walks one element of Go type t.
func (w *walker) value(dec *json.Decoder, t reflect.Type, path string, depth int, checker lexicalChecker) error {
	if t == typeOfRawMessage {
		return w.embeddedResource(dec, path, depth)
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		return w.object(dec, t, path, depth, "")
	}
	if t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8 {
		return w.array(dec, t.Elem(), path, depth)
	}
	tok, err := w.token(dec, path)
	if err != nil {
		return err
	}
	switch {
	case t == typeOfNumber:
		if _, ok := tok.(json.Number); !ok {
			return decodeErr(IssueStructure, path, "expected a number, found %s", kind(tok))
		}
	case t.Kind() == reflect.Slice: // []byte: base64Binary
		s, ok := tok.(string)
		if !ok {
			return decodeErr(IssueStructure, path, "expected a base64 string, found %s", kind(tok))
		}
		if !validBase64(s) {
			return decodeErr(IssueStructure, path, "not valid base64")
		}
	case t.Kind() == reflect.String:
		s, ok := tok.(string)
		if !ok {
			return decodeErr(IssueStructure, path, "expected a string, found %s", kind(tok))
		}
		if s == "" {
			return decodeErr(IssueStructure, path, "empty strings are not allowed in FHIR JSON")
		}
		if checker != nil {
			if err := checker.checkLexical(s); err != nil {
				return decodeErr(IssueStructure, path, "%s", err.Error())
			}
		}
	case t.Kind() == reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return decodeErr(IssueStructure, path, "expected true or false, found %s", kind(tok))
		}
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			return decodeErr(IssueStructure, path, "expected an integer, found %s", kind(tok))
		}
		// integer, positiveInt and unsignedInt are all 32-bit in R4 (§2.24.0.1).
		if _, err := strconv.ParseInt(string(n), 10, 32); err != nil {
			return decodeErr(IssueStructure, path, "not a 32-bit integer")
		}
	default:
		return decodeErr(IssueStructure, path, "unsupported element type") // a bug of this package
	}
	return nil
}

// validBase64 checks what encoding/json will accept as []byte: standard base64 with padding,
// line breaks ignored. A document's bytes are most of a provide bundle, so it goes through a
// table, one load and one test a byte.
func validBase64(s string) bool {
	n, pad := 0, 0
	for i := 0; i < len(s); i++ {
		switch base64Class[s[i]] {
		case b64Data:
			if pad > 0 {
				return false // data after padding
			}
			n++
		case b64Pad:
			pad++
			n++
		case b64Break:
		default:
			return false
		}
	}
	return n%4 == 0 && pad <= 2
}

const (
	b64Invalid = iota
	b64Data
	b64Pad
	b64Break
)

var base64Class = func() (t [256]uint8) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = b64Data
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = b64Data
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = b64Data
	}
	t['+'], t['/'], t['='], t['\r'], t['\n'] = b64Data, b64Data, b64Pad, b64Break, b64Break
	return t
}()

func (w *walker) array(dec *json.Decoder, elem reflect.Type, path string, depth int) error {
	tok, err := w.token(dec, path)
	if err != nil {
		return err
	}
	if tok != json.Delim('[') {
		return decodeErr(IssueStructure, path, "expected an array, found %s", kind(tok))
	}
	if depth, err = w.enter(path, depth); err != nil {
		return err
	}
	checker, _ := reflect.Zero(elem).Interface().(lexicalChecker)
	i := 0
	for ; dec.More(); i++ {
		if err := w.value(dec, elem, path+"["+strconv.Itoa(i)+"]", depth, checker); err != nil {
			return err
		}
	}
	if _, err := w.token(dec, path); err != nil {
		return err
	}
	if i == 0 {
		return decodeErr(IssueStructure, path, "empty arrays are not allowed in FHIR JSON")
	}
	return nil
}

// object walks a JSON object of struct type t. resource is the resource type name when the
// object is a resource, "" for an element.
func (w *walker) object(dec *json.Decoder, t reflect.Type, path string, depth int, resource string) error {
	tok, err := w.token(dec, path)
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return decodeErr(IssueStructure, path, "expected an object, found %s", kind(tok))
	}
	if depth, err = w.enter(path, depth); err != nil {
		return err
	}
	fields := fieldsOf(t)
	isExtension := t == typeOfExtension
	seen := make(map[string]bool, 8)
	values := 0 // value[x] elements of an extension
	for dec.More() {
		tok, err := w.token(dec, path)
		if err != nil {
			return err
		}
		key := tok.(string) // encoding/json only yields strings as object keys
		child := join(path, elementName(key))
		if seen[key] {
			return decodeErr(IssueStructure, child, "duplicate element")
		}
		seen[key] = true
		f, known := fields.byName[key]
		switch {
		case resource != "" && key == "resourceType":
			if tok, err = w.token(dec, child); err != nil {
				return err
			}
			if tok != resource {
				return decodeErr(IssueStructure, child, "does not match the resource type %s", resource)
			}
		case resource != "" && key == "id":
			if tok, err = w.token(dec, child); err != nil {
				return err
			}
			if s, ok := tok.(string); !ok || !idRE.MatchString(s) {
				return decodeErr(IssueStructure, child, "not a valid resource id (1 to 64 of A-Z a-z 0-9 - .)")
			}
		case known:
			if isExtension && isValueKey(key) {
				values++
			}
			if err := w.value(dec, f.typ, child, depth, f.checker); err != nil {
				return err
			}
		case isExtension && isValueKey(key):
			// A value[x] of a type not modelled here: kept verbatim, checked as JSON only.
			values++
			if err := w.loose(dec, child, depth); err != nil {
				return err
			}
		case strings.HasPrefix(key, "_") && fields.byName[key[1:]].typ != nil:
			return decodeErr(IssueNotSupported, child, "extensions on primitive elements are not supported")
		default:
			return decodeErr(IssueStructure, child, "unknown element")
		}
	}
	if _, err := w.token(dec, path); err != nil {
		return err
	}
	if len(seen) == 0 {
		return decodeErr(IssueStructure, path, "empty objects are not allowed in FHIR JSON")
	}
	if resource != "" && !seen["resourceType"] {
		return decodeErr(IssueRequired, path, "resourceType is missing")
	}
	for _, name := range fields.required {
		if !seen[name] {
			return decodeErr(IssueRequired, join(path, name), "required element is missing")
		}
	}
	if isExtension {
		switch {
		case values > 1:
			return decodeErr(IssueStructure, path, "an extension has at most one value[x]")
		case values == 1 && seen["extension"], values == 0 && !seen["extension"]:
			return decodeErr(IssueInvariant, path, "an extension has either a value[x] or extensions, not both (ext-1)")
		}
	}
	return nil
}

// embeddedResource walks a resource held as json.RawMessage (contained, Bundle.entry.resource,
// Bundle.entry.response.outcome): strictly when its type is modelled, as plain JSON otherwise.
func (w *walker) embeddedResource(dec *json.Decoder, path string, depth int) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return jsonError(err, path)
	}
	if bytes.Equal(raw, []byte("null")) {
		return decodeErr(IssueStructure, path, "null is not allowed in FHIR JSON")
	}
	rt, err := peekResourceType(raw, path)
	if err != nil {
		return err
	}
	if t, ok := resourceStructs[rt]; ok {
		return w.document(raw, t, rt, path, depth)
	}
	sub := json.NewDecoder(bytes.NewReader(raw))
	sub.UseNumber()
	return w.loose(sub, path, depth)
}

// loose walks JSON of unknown structure, holding it to FHIR JSON's general rules: no null, no
// empty string, array or object, no duplicate key, and the depth bound.
func (w *walker) loose(dec *json.Decoder, path string, depth int) error {
	tok, err := w.token(dec, path)
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		if depth, err = w.enter(path, depth); err != nil {
			return err
		}
		seen := map[string]bool{}
		for dec.More() {
			k, err := w.token(dec, path)
			if err != nil {
				return err
			}
			key := k.(string)
			if seen[key] {
				return decodeErr(IssueStructure, join(path, elementName(key)), "duplicate element")
			}
			seen[key] = true
			if err := w.loose(dec, join(path, elementName(key)), depth); err != nil {
				return err
			}
		}
		if _, err := w.token(dec, path); err != nil {
			return err
		}
		if len(seen) == 0 {
			return decodeErr(IssueStructure, path, "empty objects are not allowed in FHIR JSON")
		}
	case json.Delim('['):
		if depth, err = w.enter(path, depth); err != nil {
			return err
		}
		i := 0
		for ; dec.More(); i++ {
			if err := w.loose(dec, path+"["+strconv.Itoa(i)+"]", depth); err != nil {
				return err
			}
		}
		if _, err := w.token(dec, path); err != nil {
			return err
		}
		if i == 0 {
			return decodeErr(IssueStructure, path, "empty arrays are not allowed in FHIR JSON")
		}
	default:
		if s, ok := tok.(string); ok && s == "" {
			return decodeErr(IssueStructure, path, "empty strings are not allowed in FHIR JSON")
		}
	}
	return nil
}

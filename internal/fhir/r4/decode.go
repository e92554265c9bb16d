package r4

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"unicode/utf8"

	"github.com/carnet-sante/carnet/internal/errs"
)

// Resource is implemented by the resource types of this package.
type Resource interface {
	ResourceType() string
}

// newResource lists the resource types that DecodeResource builds.
var newResource = map[string]func() Resource{
	"AuditEvent":          func() Resource { return new(AuditEvent) },
	"Binary":              func() Resource { return new(Binary) },
	"Bundle":              func() Resource { return new(Bundle) },
	"CapabilityStatement": func() Resource { return new(CapabilityStatement) },
	"DocumentReference":   func() Resource { return new(DocumentReference) },
	"List":                func() Resource { return new(List) },
	"OperationOutcome":    func() Resource { return new(OperationOutcome) },
	"Patient":             func() Resource { return new(Patient) },
}

// resourceStructs maps each modelled resource type name to its struct type.
var resourceStructs = func() map[string]reflect.Type {
	m := make(map[string]reflect.Type, len(newResource))
	for name, f := range newResource {
		m[name] = reflect.TypeOf(f()).Elem()
	}
	return m
}()

// Supported reports whether DecodeResource builds a typed value for resourceType.
func Supported(resourceType string) bool {
	_, ok := newResource[resourceType]
	return ok
}

// Our defaults for the bounds of what the decoder accepts. A Provide Document Bundle carries
// its documents in base64, hence the size; FHIR resources seldom nest past 15 levels (Bundle,
// entry, resource, contained resource, element, extension, value, coding...), hence the depth.
const (
	DefaultMaxBytes = 64 << 20
	DefaultMaxDepth = 64
)

// Limits bounds what the decoder accepts. A zero field takes its default.
type Limits struct {
	MaxBytes int // size of the JSON text
	MaxDepth int // nesting of JSON objects and arrays, contained and entry resources included
}

func (l Limits) orDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// DecodeError is why client input is not acceptable FHIR. Its message names elements and
// rules, never the values sent, so it is safe to return to the client and to log.
type DecodeError struct {
	Type       IssueType // structure, required, invalid, not-supported, too-long, too-costly
	Expression string    // where, as a FHIRPath-like path: "DocumentReference.content[0].attachment.foo"
	Message    string
}

func (e *DecodeError) Error() string {
	if e.Expression == "" {
		return e.Message
	}
	return e.Expression + ": " + e.Message
}

// Unwrap classifies the error for the rest of the project: the request is invalid.
func (e *DecodeError) Unwrap() error {
	return &errs.Error{Code: errs.Invalid, Message: e.Error()}
}

func decodeErr(t IssueType, expr, format string, args ...any) *DecodeError {
	return &DecodeError{Type: t, Expression: expr, Message: fmt.Sprintf(format, args...)}
}

// DecodeResource decodes a FHIR R4 JSON resource of a modelled type (see [Supported]) with the
// default limits, and returns its resourceType and a pointer to its value (*DocumentReference,
// *Bundle, ...). It refuses what FHIR forbids: an element that the resource does not define
// (FHIR R4 §2.6.2: unknown elements are an error), a missing required element, null, an empty
// string, array or object, a malformed date or id, a primitive extension ("_status", not
// supported), and input past the limits. Extensions and modifierExtensions are accepted
// wherever FHIR defines them. Contained and Bundle-entry resources of a modelled type are
// checked the same way; those of other types are checked for JSON well-formedness and bounds.
func DecodeResource(data []byte) (resourceType string, v any, err error) {
	return Limits{}.DecodeResource(data)
}

// Decode decodes data, which must be a resource of r's type, strictly into r, a pointer (see
// [DecodeResource]).
func Decode(data []byte, r Resource) error { return Limits{}.Decode(data, r) }

// DecodeResource is [DecodeResource] within l.
func (l Limits) DecodeResource(data []byte) (string, any, error) {
	l = l.orDefaults()
	rt, err := l.precheck(data)
	if err != nil {
		return "", nil, err
	}
	newFn, ok := newResource[rt]
	if !ok {
		return rt, nil, decodeErr(IssueNotSupported, "", "resource type %s is not supported here", rt)
	}
	v := newFn()
	if err := l.decodeInto(data, rt, v); err != nil {
		return rt, nil, err
	}
	return rt, v, nil
}

// Decode is [Decode] within l.
func (l Limits) Decode(data []byte, r Resource) error {
	if rv := reflect.ValueOf(r); rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("r4.Decode: need a non-nil pointer to a resource, got %T", r)
	}
	l = l.orDefaults()
	rt, err := l.precheck(data)
	if err != nil {
		return err
	}
	if want := r.ResourceType(); rt != want {
		return decodeErr(IssueInvalid, "", "expected a %s resource, got a %s", want, rt)
	}
	return l.decodeInto(data, rt, r)
}

func (l Limits) precheck(data []byte) (string, error) {
	if len(data) > l.MaxBytes {
		return "", decodeErr(IssueTooLong, "", "the resource is larger than %d bytes", l.MaxBytes)
	}
	if !utf8.Valid(data) {
		return "", decodeErr(IssueStructure, "", "the resource is not valid UTF-8") // FHIR R4 §2.6.2
	}
	return peekResourceType(data, "")
}

func (l Limits) decodeInto(data []byte, rt string, v any) error {
	w := walker{maxDepth: l.MaxDepth}
	if err := w.document(data, resourceStructs[rt], rt, rt, 0); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		// The walk accepted it, so this is a disagreement between the walk and encoding/json.
		return decodeErr(IssueStructure, rt, "could not be decoded")
	}
	return nil
}

// resourceTypeRE is the shape of a resource type name; r4ResourceTypes says which exist.
var resourceTypeRE = regexp.MustCompile(`^[A-Z][A-Za-z]{1,63}$`)

// peekResourceType reads the resourceType of a JSON object without decoding the rest.
func peekResourceType(data []byte, path string) (string, error) {
	// Nearly every resource starts with its resourceType (ours always do): read it there
	// instead of scanning the whole resource (a document's base64) to find the key.
	if rt, ok := leadingResourceType(data); ok {
		if !r4ResourceTypes[rt] {
			return "", decodeErr(IssueNotSupported, join(path, "resourceType"), "%s is not a FHIR R4 resource type", rt)
		}
		return rt, nil
	}
	var head struct {
		ResourceType json.RawMessage `json:"resourceType"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return "", jsonError(err, path)
	}
	if len(head.ResourceType) == 0 {
		return "", decodeErr(IssueRequired, path, "resourceType is missing")
	}
	var rt string
	if err := json.Unmarshal(head.ResourceType, &rt); err != nil || !resourceTypeRE.MatchString(rt) {
		return "", decodeErr(IssueStructure, join(path, "resourceType"), "not a resource type name")
	}
	if !r4ResourceTypes[rt] {
		return "", decodeErr(IssueNotSupported, join(path, "resourceType"), "%s is not a FHIR R4 resource type", rt)
	}
	return rt, nil
}

// leadingResourceType reads `{"resourceType":"Name"` at the start of data (white space
// allowed where JSON allows it), when it is there and Name is a plain type name.
func leadingResourceType(data []byte) (string, bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return "", false
	}
	i = skipSpace(data, i+1)
	const key = `"resourceType"`
	if !bytes.HasPrefix(data[i:], []byte(key)) {
		return "", false
	}
	i = skipSpace(data, i+len(key))
	if i >= len(data) || data[i] != ':' {
		return "", false
	}
	i = skipSpace(data, i+1)
	if i >= len(data) || data[i] != '"' {
		return "", false
	}
	end := bytes.IndexByte(data[i+1:], '"')
	if end < 0 {
		return "", false
	}
	rt := string(data[i+1 : i+1+end])
	if !resourceTypeRE.MatchString(rt) {
		return "", false
	}
	return rt, true
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// jsonError turns an encoding/json error into a DecodeError without quoting the input.
func jsonError(err error, path string) *DecodeError {
	switch e := err.(type) {
	case *json.SyntaxError:
		return decodeErr(IssueStructure, path, "malformed JSON at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return decodeErr(IssueStructure, path, "expected a JSON object, found %s", e.Value)
	default:
		return decodeErr(IssueStructure, path, "malformed JSON")
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// checkResourceType is used by the UnmarshalJSON methods: JSON of another resource type must not
// decode silently into the wrong struct. A missing resourceType is left to the strict decoder.
func checkResourceType(want, got string) error {
	if got != "" && got != want {
		return decodeErr(IssueInvalid, "resourceType", "expected a %s resource, got another type", want)
	}
	return nil
}

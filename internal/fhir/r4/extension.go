package r4

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Extension is a FHIR extension: a URL and either one value[x] or nested extensions (ext-1).
//
// The value types that MHD and PDSm use have their own fields. Any other value[x]
// (valueDecimal, valueQuantity, ...) is kept verbatim in OtherValue, so that an extension this
// package does not model passes through a read and a write unchanged: FHIR lets anyone extend a
// resource, and refusing or dropping such content would be neither fair nor safe.
type Extension struct {
	ID        string      `json:"id,omitempty"`
	Extension []Extension `json:"extension,omitempty"`
	URL       string      `json:"url"`

	ValueString          string           `json:"valueString,omitempty"`
	ValueCode            string           `json:"valueCode,omitempty"`
	ValueURI             string           `json:"valueUri,omitempty"`
	ValueBoolean         *bool            `json:"valueBoolean,omitempty"`
	ValueInteger         *int             `json:"valueInteger,omitempty"`
	ValueDateTime        DateTime         `json:"valueDateTime,omitempty"`
	ValueCoding          *Coding          `json:"valueCoding,omitempty"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept,omitempty"`
	ValueReference       *Reference       `json:"valueReference,omitempty"`
	ValueIdentifier      *Identifier      `json:"valueIdentifier,omitempty"`
	ValuePeriod          *Period          `json:"valuePeriod,omitempty"`

	// OtherValue holds a value[x] of a type not listed above.
	OtherValue *RawValue `json:"-"`
}

// RawValue is a value[x] element kept as JSON: Name is the element name ("valueDecimal"),
// JSON its value.
type RawValue struct {
	Name string
	JSON json.RawMessage
}

// isValueKey reports whether key names a value[x] element: "value" followed by a type name.
func isValueKey(key string) bool {
	return len(key) > len("value") && strings.HasPrefix(key, "value") &&
		key[5] >= 'A' && key[5] <= 'Z'
}

// knownValueKeys are the value[x] elements that Extension models, read from its tags.
var knownValueKeys = func() map[string]bool {
	m := map[string]bool{}
	for name := range fieldsOf(typeOfExtension).byName {
		if isValueKey(name) {
			m[name] = true
		}
	}
	return m
}()

type plainExtension Extension

// MarshalJSON writes the extension, with OtherValue in its place among the value elements.
func (e Extension) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(plainExtension(e))
	if err != nil || e.OtherValue == nil {
		return b, err
	}
	if !isValueKey(e.OtherValue.Name) || knownValueKeys[e.OtherValue.Name] {
		return nil, fmt.Errorf("extension value: %q is not an unmodelled value[x] element", e.OtherValue.Name)
	}
	name, err := json.Marshal(e.OtherValue.Name)
	if err != nil {
		return nil, err
	}
	var value bytes.Buffer
	if err := json.Compact(&value, e.OtherValue.JSON); err != nil {
		return nil, fmt.Errorf("extension %s: %w", e.OtherValue.Name, err)
	}
	// b is a JSON object that at least holds "url": insert before its closing brace.
	out := make([]byte, 0, len(b)+len(name)+value.Len()+2)
	out = append(out, b[:len(b)-1]...)
	out = append(out, ',')
	out = append(out, name...)
	out = append(out, ':')
	out = append(out, value.Bytes()...)
	out = append(out, '}')
	return out, nil
}

// UnmarshalJSON reads the extension, keeping an unmodelled value[x] in OtherValue.
func (e *Extension) UnmarshalJSON(data []byte) error {
	var p plainExtension
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return err
	}
	for k, v := range keys {
		if isValueKey(k) && !knownValueKeys[k] {
			p.OtherValue = &RawValue{Name: k, JSON: v}
		}
	}
	*e = Extension(p)
	return nil
}

// FindExtension returns the first extension with the given URL, or nil.
func FindExtension(exts []Extension, url string) *Extension {
	for i := range exts {
		if exts[i].URL == url {
			return &exts[i]
		}
	}
	return nil
}

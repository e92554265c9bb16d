// Package r4 is carnet's model of the FHIR R4 (4.0.1) resources that its professional API reads
// and writes: the IHE MHD resources as profiled by the French PDSm guide (DocumentReference,
// List as SubmissionSet, Binary, Bundle), and Patient, OperationOutcome, CapabilityStatement and
// AuditEvent.
//
// The types follow the R4 JSON format element for element (FHIR R4 §2.6 "JSON Representation"):
// optional elements are omitted when empty, every resource writes its resourceType, and
// primitives whose lexical form carries meaning stay strings (date, dateTime and instant keep
// their precision and offset; decimal is a json.Number). Binary data ([]byte) is base64 as FHIR
// requires.
//
// Input from clients goes through [DecodeResource] or [Decode], which refuse what FHIR forbids
// (unknown elements, null, empty strings and arrays, malformed dates) with an error that names
// the element but never echoes its value, and bound the size and nesting of what they accept.
// [Outcome] and [FromError] turn errors into OperationOutcome resources with their HTTP status.
//
// The package knows nothing of the project's rules (which typeCode is allowed, who may deposit):
// it only speaks FHIR.
package r4

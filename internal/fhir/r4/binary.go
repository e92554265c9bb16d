package r4

// Binary is raw content: in MHD, the document itself. Binary is a plain Resource, not a
// DomainResource: it has no narrative, contained resources nor extensions (FHIR R4 §2.20).
type Binary struct {
	ID            string `json:"id,omitempty"`
	Meta          *Meta  `json:"meta,omitempty"`
	ImplicitRules string `json:"implicitRules,omitempty"`
	Language      string `json:"language,omitempty"`

	ContentType     string     `json:"contentType"`
	SecurityContext *Reference `json:"securityContext,omitempty"`
	Data            []byte     `json:"data,omitempty"`
}

package r4

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Bundle is a container of resources: the ITI-65 Provide Document Bundle (type
// "transaction") and its "transaction-response", and the "searchset" of ITI-66/ITI-67 answers.
// Bundle is a plain Resource: it has no extensions (FHIR R4 §2.36).
type Bundle struct {
	ID            string `json:"id,omitempty"`
	Meta          *Meta  `json:"meta,omitempty"`
	ImplicitRules string `json:"implicitRules,omitempty"`
	Language      string `json:"language,omitempty"`

	Identifier *Identifier   `json:"identifier,omitempty"`
	Type       string        `json:"type"`
	Timestamp  Instant       `json:"timestamp,omitempty"`
	Total      *int          `json:"total,omitempty"` // searchset and history only; 0 is meaningful
	Link       []BundleLink  `json:"link,omitempty"`
	Entry      []BundleEntry `json:"entry,omitempty"`
	Signature  *Signature    `json:"signature,omitempty"`
}

// Bundle.type values (FHIR R4 bundle-type).
const (
	BundleTypeDocument            = "document"
	BundleTypeMessage             = "message"
	BundleTypeTransaction         = "transaction"
	BundleTypeTransactionResponse = "transaction-response"
	BundleTypeBatch               = "batch"
	BundleTypeBatchResponse       = "batch-response"
	BundleTypeHistory             = "history"
	BundleTypeSearchset           = "searchset"
	BundleTypeCollection          = "collection"
)

// BundleLink is a link of a Bundle (self, next, previous, ... for paging).
type BundleLink struct {
	ID                string      `json:"id,omitempty"`
	Extension         []Extension `json:"extension,omitempty"`
	ModifierExtension []Extension `json:"modifierExtension,omitempty"`
	Relation          string      `json:"relation"`
	URL               string      `json:"url"`
}

// BundleEntry is one entry of a Bundle. Resource is kept as JSON, since its type is known only
// by its resourceType: read it with [BundleEntry.DecodeResource] (or [DecodeResource] directly)
// and write it with [BundleEntry.SetResource].
type BundleEntry struct {
	ID                string          `json:"id,omitempty"`
	Extension         []Extension     `json:"extension,omitempty"`
	ModifierExtension []Extension     `json:"modifierExtension,omitempty"`
	Link              []BundleLink    `json:"link,omitempty"`
	FullURL           string          `json:"fullUrl,omitempty"`
	Resource          json.RawMessage `json:"resource,omitempty"`
	Search            *BundleSearch   `json:"search,omitempty"`
	Request           *BundleRequest  `json:"request,omitempty"`
	Response          *BundleResponse `json:"response,omitempty"`
}

// BundleSearch tells why an entry is in a search result.
type BundleSearch struct {
	ID                string      `json:"id,omitempty"`
	Extension         []Extension `json:"extension,omitempty"`
	ModifierExtension []Extension `json:"modifierExtension,omitempty"`
	Mode              string      `json:"mode,omitempty"` // match | include | outcome
	Score             json.Number `json:"score,omitempty"`
}

// BundleRequest is the HTTP request that a transaction or batch entry stands for.
type BundleRequest struct {
	ID                string      `json:"id,omitempty"`
	Extension         []Extension `json:"extension,omitempty"`
	ModifierExtension []Extension `json:"modifierExtension,omitempty"`
	Method            string      `json:"method"` // GET | HEAD | POST | PUT | DELETE | PATCH
	URL               string      `json:"url"`
	IfNoneMatch       string      `json:"ifNoneMatch,omitempty"`
	IfModifiedSince   Instant     `json:"ifModifiedSince,omitempty"`
	IfMatch           string      `json:"ifMatch,omitempty"`
	IfNoneExist       string      `json:"ifNoneExist,omitempty"`
}

// BundleResponse is the outcome of one entry of a transaction or batch.
type BundleResponse struct {
	ID                string          `json:"id,omitempty"`
	Extension         []Extension     `json:"extension,omitempty"`
	ModifierExtension []Extension     `json:"modifierExtension,omitempty"`
	Status            string          `json:"status"` // "201 Created", ...
	Location          string          `json:"location,omitempty"`
	Etag              string          `json:"etag,omitempty"`
	LastModified      Instant         `json:"lastModified,omitempty"`
	Outcome           json.RawMessage `json:"outcome,omitempty"`
}

// DecodeResource decodes the entry's resource strictly, as [DecodeResource] does.
func (e *BundleEntry) DecodeResource() (resourceType string, v any, err error) {
	if len(e.Resource) == 0 {
		return "", nil, errors.New("bundle entry has no resource")
	}
	return DecodeResource(e.Resource)
}

// DecodeChecked decodes the resource of an entry of a Bundle that [Decode] already accepted:
// Decode walked every entry strictly, so walking it again would only spend time (a document's
// base64 is most of a provide bundle). Use DecodeResource for an entry of any other origin.
func (e *BundleEntry) DecodeChecked() (resourceType string, v any, err error) {
	if len(e.Resource) == 0 {
		return "", nil, errors.New("bundle entry has no resource")
	}
	rt, err := peekResourceType(e.Resource, "")
	if err != nil {
		return "", nil, err
	}
	newFn, ok := newResource[rt]
	if !ok {
		return rt, nil, decodeErr(IssueNotSupported, "", "resource type %s is not supported here", rt)
	}
	v = newFn()
	if err := json.Unmarshal(e.Resource, v); err != nil {
		return rt, nil, decodeErr(IssueStructure, rt, "could not be decoded")
	}
	return rt, v, nil
}

// SetResource stores r as the entry's resource.
func (e *BundleEntry) SetResource(r Resource) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("bundle entry %s: %w", r.ResourceType(), err)
	}
	e.Resource = b
	return nil
}

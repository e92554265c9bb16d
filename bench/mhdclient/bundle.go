// Package mhdclient is the client side of carnet's whole-system benchmarks and crash test: it
// builds IHE MHD requests (the ITI-65 Provide Document Bundle with the internal/fhir/r4 types),
// sends them to a running `carnet serve`, reads documents back (ITI-68) and searches (ITI-67),
// and keeps a journal of the deposits the server acknowledged, so that a later check can prove
// that none of them was lost.
//
// It lives under bench/ and is imported by the load tool (bench/mhdload) and by the crash test
// of cmd/carnet; it is not part of the server.
package mhdclient

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/identity"
)

// Document is one document to deposit and what is known of its bytes.
type Document struct {
	INS     identity.INS
	Author  string // IdNat_PS of the depositing professional
	Title   string
	Content []byte
	SHA1    string // hex
	SHA256  string // hex
	// UniqueID is the document's OID (masterIdentifier); it must be new in the patient's record.
	UniqueID string
	Created  time.Time
}

// NewDocument returns a document of content for ins, with its hashes and a fresh uniqueId.
func NewDocument(ins identity.INS, author, title string, content []byte, created time.Time) Document {
	s1, s256 := sha1.Sum(content), sha256.Sum256(content)
	return Document{INS: ins, Author: author, Title: title, Content: content,
		SHA1: hex.EncodeToString(s1[:]), SHA256: hex.EncodeToString(s256[:]),
		UniqueID: newOID(), Created: created}
}

// newOID returns a random OID under the 2.25 arc (ITU-T X.667), as a sender without an OID
// root of its own would make one: 2.25 followed by a 64-bit random number is enough to be
// unique within a benchmark.
func newOID() string {
	return fmt.Sprintf("2.25.%d%019d", rand.Uint64()>>1, rand.Uint64()%1e19)
}

// PDF returns a well-formed enough PDF of size bytes whose content is distinct for each seed:
// the seed is in the header and drives the filler, so two documents never share a hash.
func PDF(size int, seed uint64) []byte {
	head := fmt.Sprintf("%%PDF-1.4\n%% carnet benchmark document %d\n", seed)
	const tail = "\n%%EOF\n"
	if size < len(head)+len(tail) {
		size = len(head) + len(tail)
	}
	b := make([]byte, size)
	copy(b, head)
	// Filler: a cheap pseudo-random stream (PCG), printable, so that the bytes are neither
	// all alike nor costly to make on the load generator's side.
	rng := rand.NewPCG(seed, 0x9e3779b97f4a7c15)
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/"
	var w [8]byte
	for i := len(head); i < size-len(tail); i += 8 {
		binary.LittleEndian.PutUint64(w[:], rng.Uint64())
		for j := 0; j < 8 && i+j < size-len(tail); j++ {
			b[i+j] = alphabet[w[j]&63]
		}
	}
	copy(b[size-len(tail):], tail)
	return b
}

// SubmissionSet profile's source id extension (IHE MHD).
const sourceIDExtension = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId"

// ProvideBundle returns the ITI-65 transaction Bundle (JSON) that deposits doc: a SubmissionSet
// List, one DocumentReference (a consultation report, LOINC 11488-4) and the Binary it points
// at, as the MHD Comprehensive Provide Document Bundle profile lays them out.
func ProvideBundle(doc Document) ([]byte, error) {
	sys, val := doc.INS.FHIR()
	subject := &r4.Reference{Identifier: &r4.Identifier{System: sys, Value: val}}
	created := doc.Created.UTC()
	if created.IsZero() {
		created = time.Now().UTC()
	}
	listURL, drURL, binURL := "urn:uuid:"+newUUID(), "urn:uuid:"+newUUID(), "urn:uuid:"+newUUID()
	list := r4.List{
		Meta:       &r4.Meta{Profile: []string{r4.ProfileMHDComprehensiveSubmissionSet}},
		Extension:  []r4.Extension{{URL: sourceIDExtension, ValueIdentifier: &r4.Identifier{Value: "urn:oid:1.2.250.1.999.1"}}},
		Identifier: []r4.Identifier{{Use: "official", System: r4.SystemRFC3986, Value: "urn:oid:" + newOID()}},
		Status:     "current", Mode: "working", Subject: subject, Date: r4.DateTimeOf(created),
		Code:  &r4.CodeableConcept{Coding: []r4.Coding{{System: r4.SystemMHDListTypes, Code: r4.ListTypeSubmissionSet}}},
		Entry: []r4.ListEntry{{Item: r4.Reference{Reference: drURL}}},
	}
	size := int64(len(doc.Content))
	h, err := hex.DecodeString(doc.SHA1)
	if err != nil {
		return nil, fmt.Errorf("provide bundle: SHA-1: %w", err)
	}
	dr := r4.DocumentReference{
		MasterIdentifier: &r4.Identifier{System: r4.SystemRFC3986, Value: "urn:oid:" + doc.UniqueID},
		Status:           "current",
		Type:             &r4.CodeableConcept{Coding: []r4.Coding{{System: r4.SystemLOINC, Code: "11488-4", Display: "Compte rendu de consultation"}}},
		Category:         []r4.CodeableConcept{{Coding: []r4.Coding{{System: r4.OIDClassCode, Code: "10"}}}},
		Subject:          subject,
		Author:           []r4.Reference{{Identifier: &r4.Identifier{System: r4.SystemIdNatPS, Value: doc.Author}}},
		SecurityLabel:    []r4.CodeableConcept{{Coding: []r4.Coding{{System: r4.SystemConfidentiality, Code: "N"}}}},
		Content: []r4.DocumentReferenceContent{{Attachment: r4.Attachment{ContentType: "application/pdf", URL: binURL,
			Size: &size, Hash: h, Title: doc.Title, Creation: r4.DateTimeOf(created)}}},
		Context: &r4.DocumentReferenceContext{Period: &r4.Period{Start: r4.DateTimeOf(created.Add(-time.Hour))}},
	}
	b := r4.Bundle{Type: r4.BundleTypeTransaction, Meta: &r4.Meta{Profile: []string{r4.ProfileMHDComprehensiveProvideBundle}}}
	entries := []struct {
		url, typ string
		res      r4.Resource
	}{
		{listURL, "List", list},
		{drURL, "DocumentReference", dr},
		{binURL, "Binary", r4.Binary{ContentType: "application/pdf", Data: placeholder}},
	}
	for _, e := range entries {
		be := r4.BundleEntry{FullURL: e.url, Request: &r4.BundleRequest{Method: "POST", URL: e.typ}}
		if err := be.SetResource(e.res); err != nil {
			return nil, err
		}
		b.Entry = append(b.Entry, be)
	}
	out, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	// The document goes in last, spliced in place of the placeholder: encoding/json would
	// otherwise encode it, then check and compact it again at each level of MarshalJSON, and
	// the load generator would spend more CPU per deposit than the server it measures. Base64
	// needs no JSON escaping.
	i := bytes.Index(out, placeholder64)
	if i < 0 || bytes.Index(out[i+1:], placeholder64) >= 0 {
		return nil, fmt.Errorf("provide bundle: the placeholder of the document is not there once")
	}
	n := base64.StdEncoding.EncodedLen(len(doc.Content))
	res := make([]byte, 0, len(out)-len(placeholder64)+n)
	res = append(res, out[:i]...)
	res = base64.StdEncoding.AppendEncode(res, doc.Content)
	return append(res, out[i+len(placeholder64):]...), nil
}

// placeholder stands for a document's bytes in the Bundle until they are spliced in.
var (
	placeholder   = []byte("\x00mhdclient: the document's bytes go here\x00")
	placeholder64 = []byte(base64.StdEncoding.EncodeToString(placeholder))
)

// newUUID returns a random (version 4) UUID in its canonical text form.
func newUUID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

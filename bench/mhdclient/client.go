package mhdclient

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/fhir/r4"
	"github.com/carnet-sante/carnet/internal/identity"
)

// Client talks to one carnet FHIR API with one bearer token.
type Client struct {
	base  string // e.g. http://127.0.0.1:8080/fhir
	token string
	http  *http.Client
}

// New returns a client of the API at base (the server's URL, with or without /fhir) that keeps
// up to conns connections open, one per concurrent caller.
func New(base, token string, conns int) *Client {
	base = strings.TrimSuffix(base, "/")
	if !strings.HasSuffix(base, "/fhir") {
		base += "/fhir"
	}
	if conns < 1 {
		conns = 1
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &Client{base: base, token: token, http: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// Close closes the idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// StatusError is an answer other than the one expected: its HTTP status and the start of the
// body (an OperationOutcome), for the report.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body) }

func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte, accept string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, nil, fmt.Errorf("read the answer: %w", err)
	}
	return res.StatusCode, b, nil
}

func statusError(code int, body []byte) error {
	const max = 300
	s := string(body)
	if len(s) > max {
		s = s[:max] + "…"
	}
	return &StatusError{Code: code, Body: s}
}

// Ack is the server's acknowledgement of a deposit.
type Ack struct {
	ID      string // the DocumentReference's logical id (also the Binary's)
	Version string
}

// Deposit sends an ITI-65 Provide Document Bundle (from ProvideBundle) and returns the id the
// server gave the document, read from the transaction-response's DocumentReference location
// ("DocumentReference/<id>/_history/<version>"). Anything but 200 with that location is an
// error; a *StatusError when the server answered.
func (c *Client) Deposit(ctx context.Context, bundle []byte) (Ack, error) {
	code, body, err := c.do(ctx, http.MethodPost, "", r4.MIMEFHIRJSON, bundle, r4.MIMEFHIRJSON)
	if err != nil {
		return Ack{}, err
	}
	if code != http.StatusOK {
		return Ack{}, statusError(code, body)
	}
	var resp struct {
		Type  string `json:"type"`
		Entry []struct {
			Response *struct {
				Status   string `json:"status"`
				Location string `json:"location"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return Ack{}, fmt.Errorf("ITI-65 answer is not a Bundle: %w", err)
	}
	if resp.Type != r4.BundleTypeTransactionResponse {
		return Ack{}, fmt.Errorf("ITI-65 answer is a %q Bundle, not a transaction-response", resp.Type)
	}
	for _, e := range resp.Entry {
		if e.Response == nil {
			continue
		}
		rest, ok := strings.CutPrefix(e.Response.Location, "DocumentReference/")
		if !ok {
			continue
		}
		id, version, _ := strings.Cut(rest, "/_history/")
		if id == "" || strings.Contains(id, "/") {
			break
		}
		return Ack{ID: id, Version: version}, nil
	}
	return Ack{}, fmt.Errorf("ITI-65 answer names no DocumentReference location")
}

// Retrieve is ITI-68: the document's bytes as the server returns them.
func (c *Client) Retrieve(ctx context.Context, id string) ([]byte, error) {
	code, body, err := c.do(ctx, http.MethodGet, "/Binary/"+url.PathEscape(id), "", nil, "application/pdf")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, statusError(code, body)
	}
	return body, nil
}

// Check retrieves the document id and compares its bytes with the hashes and size recorded
// when it was deposited. A document the server does not have is a *StatusError (404).
func (c *Client) Check(ctx context.Context, r Record) error {
	b, err := c.Retrieve(ctx, r.ID)
	if err != nil {
		return err
	}
	s1, s256 := sha1.Sum(b), sha256.Sum256(b)
	switch {
	case int64(len(b)) != r.Size:
		return fmt.Errorf("%w: %d bytes read back, %d deposited", ErrMismatch, len(b), r.Size)
	case hex.EncodeToString(s1[:]) != r.SHA1:
		return fmt.Errorf("%w: SHA-1 differs", ErrMismatch)
	case hex.EncodeToString(s256[:]) != r.SHA256:
		return fmt.Errorf("%w: SHA-256 differs", ErrMismatch)
	}
	return nil
}

// ErrMismatch says that a document read back is not the one deposited.
var ErrMismatch = fmt.Errorf("the bytes read back are not the ones deposited")

// SearchResult is what an ITI-67 answer holds, counted.
type SearchResult struct {
	Entries int
	Total   int  // -1 when the Bundle has no total (more pages)
	Next    bool // a next link
}

// Search is ITI-67 for the patient ins: GET /fhir/DocumentReference?patient.identifier=… with
// _count when count > 0 (the first listing of the record when 0).
func (c *Client) Search(ctx context.Context, ins identity.INS, count int) (SearchResult, error) {
	sys, val := ins.FHIR()
	q := url.Values{"patient.identifier": {sys + "|" + val}}
	if count > 0 {
		q.Set("_count", fmt.Sprint(count))
	}
	code, body, err := c.do(ctx, http.MethodGet, "/DocumentReference?"+q.Encode(), "", nil, r4.MIMEFHIRJSON)
	if err != nil {
		return SearchResult{}, err
	}
	if code != http.StatusOK {
		return SearchResult{}, statusError(code, body)
	}
	var b struct {
		Type  string            `json:"type"`
		Total *int              `json:"total"`
		Link  []r4.BundleLink   `json:"link"`
		Entry []json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return SearchResult{}, fmt.Errorf("ITI-67 answer is not a Bundle: %w", err)
	}
	if b.Type != r4.BundleTypeSearchset {
		return SearchResult{}, fmt.Errorf("ITI-67 answer is a %q Bundle, not a searchset", b.Type)
	}
	res := SearchResult{Entries: len(b.Entry), Total: -1}
	if b.Total != nil {
		res.Total = *b.Total
	}
	for _, l := range b.Link {
		if l.Relation == "next" {
			res.Next = true
		}
	}
	return res, nil
}

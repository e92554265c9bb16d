package r4_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/fhir/r4"
)

func TestIssueTypeHTTPStatus(t *testing.T) {
	tests := []struct {
		t    r4.IssueType
		want int
	}{
		{r4.IssueInvalid, http.StatusBadRequest},
		{r4.IssueStructure, http.StatusBadRequest},
		{r4.IssueRequired, http.StatusUnprocessableEntity},
		{r4.IssueValue, http.StatusUnprocessableEntity},
		{r4.IssueBusinessRule, http.StatusUnprocessableEntity},
		{r4.IssueProcessing, http.StatusUnprocessableEntity},
		{r4.IssueNotSupported, http.StatusUnprocessableEntity},
		{r4.IssueNotFound, http.StatusNotFound},
		{r4.IssueDeleted, http.StatusGone},
		{r4.IssueForbidden, http.StatusForbidden},
		{r4.IssueSecurity, http.StatusForbidden},
		{r4.IssueLogin, http.StatusUnauthorized},
		{r4.IssueConflict, http.StatusConflict},
		{r4.IssueDuplicate, http.StatusConflict},
		{r4.IssueTooLong, http.StatusRequestEntityTooLarge},
		{r4.IssueTooCostly, http.StatusBadRequest},
		{r4.IssueThrottled, http.StatusTooManyRequests},
		{r4.IssueTransient, http.StatusServiceUnavailable},
		{r4.IssueException, http.StatusInternalServerError},
		{r4.IssueType("made-up"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		if got := tt.t.HTTPStatus(); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.t, got, tt.want)
		}
	}
}

func TestOutcome(t *testing.T) {
	o := r4.Outcome(r4.SeverityError, r4.IssueNotFound, "no such document")
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","diagnostics":"no such document"}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if o.Status() != http.StatusNotFound {
		t.Errorf("status %d", o.Status())
	}
	if s := r4.Outcome(r4.SeverityWarning, r4.IssueValue, "x").Status(); s != http.StatusOK {
		t.Errorf("a warning alone: status %d", s)
	}
}

func TestFromError(t *testing.T) {
	_, _, decodeErr := r4.DecodeResource([]byte(withDoc(`"foo":1`)))
	tests := []struct {
		name       string
		err        error
		status     int
		code       r4.IssueType
		diag       string
		expression string
	}{
		{"decode error", decodeErr, 400, r4.IssueStructure, "DocumentReference.foo: unknown element", "DocumentReference.foo"},
		{"wrapped decode error", fmt.Errorf("provide bundle: %w", decodeErr), 400, r4.IssueStructure, "DocumentReference.foo: unknown element", "DocumentReference.foo"},
		{"invalid", errs.E(errs.Invalid, "typeCode 1234-5 is not allowed"), 422, r4.IssueBusinessRule, "typeCode 1234-5 is not allowed", ""},
		{"not found", fmt.Errorf("read: %w", errs.E(errs.NotFound, "no such document")), 404, r4.IssueNotFound, "no such document", ""},
		{"forbidden", errs.E(errs.Forbidden, "not authorised"), 403, r4.IssueForbidden, "not authorised", ""},
		{"conflict", errs.E(errs.Conflict, "uniqueId already used"), 409, r4.IssueConflict, "uniqueId already used", ""},
		{"unavailable", errs.E(errs.Unavailable, "try later"), 503, r4.IssueTransient, "try later", ""},
		{"internal", errs.Wrap(errs.Internal, errors.New("disk full at /var/lib/x"), "store"), 500, r4.IssueException, "internal error", ""},
		{"foreign error", errors.New("pq: password authentication failed"), 500, r4.IssueException, "internal error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, status := r4.FromError(tt.err)
			if status != tt.status || len(o.Issue) != 1 {
				t.Fatalf("status %d, %d issues", status, len(o.Issue))
			}
			i := o.Issue[0]
			if i.Severity != r4.SeverityError || i.Code != tt.code || i.Diagnostics != tt.diag {
				t.Errorf("issue %+v", i)
			}
			if got := strings.Join(i.Expression, ","); got != tt.expression {
				t.Errorf("expression %q, want %q", got, tt.expression)
			}
		})
	}
}

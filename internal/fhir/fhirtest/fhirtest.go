// Package fhirtest checks, in tests, that carnet's FHIR JSON is valid FHIR R4 according to
// validators that share no code with carnet: HL7's official R4 JSON schema and a
// StructureDefinition-driven validator (cardinalities, FHIRPath invariants), run under Node.js
// from the packages pinned in testdata/validator/package-lock.json (see testdata/validator/validate.cjs).
//
// One validator process serves a whole test binary: it starts on first use and reads
// resources over stdin, one JSON line each, so that validating hundreds of resources costs
// about a millisecond each after a start-up of a few seconds. When its packages are missing,
// the first use installs them with .ci/install-test-deps (npm ci, under a file lock), so a plain
// `go test ./...` works on a fresh machine that reaches the npm registry. If Node.js is missing
// or the install fails, the calling test fails: it never skips, since a skipped validation
// would let invalid FHIR through unnoticed.
package fhirtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// Issue is one problem found by a validator.
type Issue struct {
	Validator string `json:"validator"` // "schema" (HL7 JSON schema), "structure" (StructureDefinitions), "input"
	Severity  string `json:"severity"`  // error, warning, information
	Path      string `json:"path"`      // FHIRPath-like location: "DocumentReference.content[0].attachment"
	Message   string `json:"message"`
}

func (i Issue) String() string {
	return fmt.Sprintf("%s %s at %s: %s", i.Validator, i.Severity, i.Path, i.Message)
}

// Result is the verdict on one resource.
type Result struct {
	Valid  bool    `json:"valid"`
	Issues []Issue `json:"issues"`
}

// Errors returns the issues of severity error or fatal.
func (r *Result) Errors() []Issue {
	var out []Issue
	for _, i := range r.Issues {
		if i.Severity == "error" || i.Severity == "fatal" {
			out = append(out, i)
		}
	}
	return out
}

// Validate fails t unless resource is a valid FHIR R4 JSON resource. Warnings are logged.
func Validate(t testing.TB, resource []byte) {
	t.Helper()
	res, err := Check(resource)
	if err != nil {
		t.Fatalf("fhirtest: %v", err)
	}
	report(t, "", res)
}

// ValidateAll validates each resource, reporting every invalid one before failing.
func ValidateAll(t testing.TB, resources ...[]byte) {
	t.Helper()
	for i, r := range resources {
		res, err := Check(r)
		if err != nil {
			t.Fatalf("fhirtest: %v", err)
		}
		report(t, fmt.Sprintf("resource %d: ", i), res)
	}
}

// ValidateValue marshals v with encoding/json and validates the result.
func ValidateValue(t testing.TB, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("fhirtest: marshal %T: %v", v, err)
	}
	Validate(t, b)
}

func report(t testing.TB, prefix string, res *Result) {
	t.Helper()
	var errs, others []string
	for _, i := range res.Issues {
		if i.Severity == "error" || i.Severity == "fatal" {
			errs = append(errs, "\t"+i.String())
		} else {
			others = append(others, "\t"+i.String())
		}
	}
	if len(others) > 0 {
		t.Logf("%sFHIR validator notes:\n%s", prefix, strings.Join(others, "\n"))
	}
	if !res.Valid {
		if len(errs) == 0 {
			errs = []string{"\t(no error detail)"}
		}
		t.Errorf("%snot valid FHIR R4:\n%s", prefix, strings.Join(errs, "\n"))
	}
}

// Check validates resource and returns the verdict; the error is for a validator that could
// not be started or that failed, not for an invalid resource.
func Check(resource []byte) (*Result, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, resource); err != nil {
		return &Result{Issues: []Issue{{
			Validator: "input", Severity: "error", Message: "not JSON: " + err.Error(),
		}}}, nil
	}
	p, err := validator()
	if err != nil {
		return nil, err
	}
	return p.check(compact.Bytes())
}

// proc is the running validator.
type proc struct {
	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *bytes.Buffer
	nextID int
	dead   error
}

var (
	startOnce sync.Once
	running   *proc
	startErr  error
)

// validator returns the process of this test binary, starting it on first use. It is never
// stopped explicitly: it exits when its stdin closes, that is when the test binary exits.
func validator() (*proc, error) {
	startOnce.Do(func() { running, startErr = start() })
	return running, startErr
}

func start() (*proc, error) {
	dir, err := validatorDir()
	if err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("node (Node.js 20.19 or later) is not installed: it runs the independent FHIR validator; install it (Debian: apt-get install nodejs npm)")
	}
	if err := ensureInstalled(dir); err != nil {
		return nil, err
	}
	cmd := exec.Command(node, "validate.cjs")
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, stdin: stdin, stdout: bufio.NewReaderSize(stdout, 1<<20), stderr: &bytes.Buffer{}}
	cmd.Stderr = &lockedWriter{w: p.stderr}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the FHIR validator: %w", err)
	}
	line, err := p.stdout.ReadBytes('\n')
	if err != nil {
		_ = cmd.Wait()
		return nil, fmt.Errorf("the FHIR validator did not start: %v\n%s", err, p.stderrText())
	}
	var ready struct {
		Ready bool `json:"ready"`
	}
	if json.Unmarshal(line, &ready) != nil || !ready.Ready {
		_ = stdin.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("the FHIR validator did not start: %q\n%s", line, p.stderrText())
	}
	return p, nil
}

func (p *proc) check(resource []byte) (*Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead != nil {
		return nil, p.dead
	}
	p.nextID++
	req := make([]byte, 0, len(resource)+32)
	req = fmt.Appendf(req, `{"id":%d,"resource":`, p.nextID)
	req = append(req, resource...)
	req = append(req, "}\n"...)
	if _, err := p.stdin.Write(req); err != nil {
		p.dead = fmt.Errorf("the FHIR validator stopped: %v\n%s", err, p.stderrText())
		return nil, p.dead
	}
	line, err := p.stdout.ReadBytes('\n')
	if err != nil {
		p.dead = fmt.Errorf("the FHIR validator stopped: %v\n%s", err, p.stderrText())
		return nil, p.dead
	}
	var resp struct {
		ID int `json:"id"`
		Result
	}
	if err := json.Unmarshal(line, &resp); err != nil || resp.ID != p.nextID {
		p.dead = fmt.Errorf("the FHIR validator answered out of protocol: %q", line)
		return nil, p.dead
	}
	return &resp.Result, nil
}

func (p *proc) stderrText() string {
	w := p.cmd.Stderr.(*lockedWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	s := p.stderr.String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
}

// lockedWriter lets the process write stderr while a failing test reads it.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

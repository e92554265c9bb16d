package trail_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/mail"
	"github.com/carnet-sante/carnet/internal/questionnaire"
	"github.com/carnet-sante/carnet/internal/trail"
)

// The trail says every traced action and reason in words: a name the code writes and the
// labels forget shows raw (or as its family's words) on the patient's page. These tests read
// the module's sources, so that a new trace without a label fails here rather than on a
// patient's screen.

const modulePath = "github.com/carnet-sante/carnet"

// traced are the actions and reasons the audit.Entry literals of the module's code (not its
// tests) write, where the value is known without running the code: a string literal, a
// constant of the package or of a package of the module, or string() of one of them. A value
// held in a variable (Action: action) is not seen: the actions of the access decision are
// checked through access.Actions() instead (TestLabels).
type traced struct {
	actions, reasons map[string][]string // value → where
	unresolved       int
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module "+modulePath+"\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of the module above the test")
		}
		dir = parent
	}
}

func scanTraces(t *testing.T) traced {
	t.Helper()
	root := moduleRoot(t)
	fset := token.NewFileSet()
	files := map[string][]*ast.File{} // directory (relative) → its files
	walk := func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		files[filepath.ToSlash(rel)] = append(files[filepath.ToSlash(rel)], f)
		return nil
	}
	// What the server writes: the load tools of bench/ trace nobody's data.
	for _, top := range []string{"cmd", "internal"} {
		if err := filepath.WalkDir(filepath.Join(root, top), walk); err != nil {
			t.Fatal(err)
		}
	}
	// The string constants of each package, by name.
	consts := map[string]map[string]string{}
	for dir, fs := range files {
		consts[dir] = map[string]string{}
		for _, f := range fs {
			for _, decl := range f.Decls {
				g, ok := decl.(*ast.GenDecl)
				if !ok || g.Tok != token.CONST {
					continue
				}
				for _, spec := range g.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if i < len(vs.Values) {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								if v, err := strconv.Unquote(lit.Value); err == nil {
									consts[dir][name.Name] = v
								}
							}
						}
					}
				}
			}
		}
	}
	out := traced{actions: map[string][]string{}, reasons: map[string][]string{}}
	for dir, fs := range files {
		for _, f := range fs {
			imports := map[string]string{} // name in the file → directory in the module
			for _, im := range f.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				rel, ok := strings.CutPrefix(p, modulePath+"/")
				if !ok {
					continue
				}
				name := filepath.Base(rel)
				if im.Name != nil {
					name = im.Name.Name
				}
				imports[name] = rel
			}
			var resolve func(e ast.Expr) (string, bool)
			resolve = func(e ast.Expr) (string, bool) {
				switch e := e.(type) {
				case *ast.BasicLit:
					if e.Kind == token.STRING {
						v, err := strconv.Unquote(e.Value)
						return v, err == nil
					}
				case *ast.Ident:
					v, ok := consts[dir][e.Name]
					return v, ok
				case *ast.SelectorExpr:
					if x, ok := e.X.(*ast.Ident); ok {
						if pkg, ok := imports[x.Name]; ok {
							v, ok := consts[pkg][e.Sel.Name]
							return v, ok
						}
					}
				case *ast.CallExpr:
					if fn, ok := e.Fun.(*ast.Ident); ok && fn.Name == "string" && len(e.Args) == 1 {
						return resolve(e.Args[0])
					}
				case *ast.ParenExpr:
					return resolve(e.X)
				}
				return "", false
			}
			isEntry := func(typ ast.Expr) bool {
				switch typ := typ.(type) {
				case *ast.SelectorExpr:
					x, ok := typ.X.(*ast.Ident)
					return ok && typ.Sel.Name == "Entry" && imports[x.Name] == "internal/audit"
				case *ast.Ident:
					return typ.Name == "Entry" && dir == "internal/audit"
				}
				return false
			}
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.CompositeLit)
				if !ok || !isEntry(lit.Type) {
					return true
				}
				for _, el := range lit.Elts {
					kv, ok := el.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					key, ok := kv.Key.(*ast.Ident)
					if !ok || (key.Name != "Action" && key.Name != "Reason") {
						continue
					}
					v, ok := resolve(kv.Value)
					if !ok {
						out.unresolved++
						continue
					}
					where := fset.Position(kv.Pos()).String()
					if rel, err := filepath.Rel(root, where); err == nil {
						where = rel
					}
					if key.Name == "Action" {
						out.actions[v] = append(out.actions[v], where)
					} else if v != "" {
						out.reasons[v] = append(out.reasons[v], where)
					}
				}
				return true
			})
		}
	}
	return out
}

// Every action an audit.Entry of the code writes has a label of its own, and every reason one
// too (not only the outcome's words).
func TestEveryTracedActionHasALabel(t *testing.T) {
	tr := scanTraces(t)
	// The scan must see what it is meant to see, or it proves nothing: actions of several
	// packages, written each way, and a reason.
	for _, want := range []string{"questionnaire.receive", questionnaire.ActionReadResponse, questionnaire.ActionSettleResponse,
		"mail.deliver", "space.lookup", audit.AnchorAction} {
		if _, ok := tr.actions[want]; !ok {
			t.Errorf("the scan did not find the action %s", want)
		}
	}
	if _, ok := tr.reasons["not_own_patient"]; !ok { // record's lookup refused
		t.Error("the scan did not find the reason not_own_patient")
	}
	if len(tr.actions) < 30 {
		t.Errorf("the scan found only %d actions", len(tr.actions))
	}
	labelled := trail.Actions()
	for a, where := range tr.actions {
		if !slices.Contains(labelled, a) {
			t.Errorf("no label for the action %q (%s)", a, strings.Join(where, ", "))
		}
	}
	fallback := trail.ReasonLabel("", audit.Denied)
	for r, where := range tr.reasons {
		if trail.ReasonLabel(r, audit.Denied) == fallback {
			t.Errorf("no label for the reason %q (%s)", r, strings.Join(where, ", "))
		}
	}
	t.Logf("%d actions and %d reasons checked; %d values held in variables not seen", len(tr.actions), len(tr.reasons), tr.unresolved)
}

// The messaging's refusals reach the patient's chain as reasons (mail.Portal traces a reply
// it refuses, the acceptance a message refused to a patient): each has its words.
func TestMailRefusalsHaveLabels(t *testing.T) {
	fallback := trail.ReasonLabel("", audit.Denied)
	for _, r := range []mail.Reason{mail.ReasonBadAddress, mail.ReasonUnknownMailbox, mail.ReasonSenderDomain, mail.ReasonRelayDenied,
		mail.ReasonSpaceNotOpen, mail.ReasonDisabled, mail.ReasonNoReply, mail.ReasonPatientFirst, mail.ReasonSenderNotOwn,
		mail.ReasonMailboxFull, mail.ReasonTooBig, mail.ReasonMalformed, mail.ReasonTooManyRcpts, mail.ReasonTemporary} {
		if trail.ReasonLabel(string(r), audit.Denied) == fallback {
			t.Errorf("no label for the messaging's refusal %q", r)
		}
	}
	for _, r := range []string{questionnaire.ReasonNotSender, questionnaire.ReasonReplyFound, questionnaire.ReasonReplyMissing} {
		if trail.ReasonLabel(r, audit.Allowed) == trail.ReasonLabel("", audit.Allowed) {
			t.Errorf("no label for the questionnaires' reason %q", r)
		}
	}
}

package cda

import (
	"bytes"
	"html"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/identity"
)

// FuzzParse feeds Parse anything and renders what it accepts: neither may panic, a refusal
// is always errs.Invalid, and the HTML holds only the markup RenderHTML writes itself (no
// "<script", no attribute of the document, links to http and https only).
func FuzzParse(f *testing.F) {
	// The CI-SIS examples, when the reference data is there (the fuzzer still runs without).
	// The mutator makes no progress on inputs of hundreds of kilobytes, so the larger ones
	// seed with their header and first sections only, the rest cut at an element boundary;
	// the conformance tests parse them whole.
	if dir, ok := findSharedData(); ok {
		files, _ := filepath.Glob(filepath.Join(dir, "cda", "*.xml"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(seedOf(b))
			}
		}
	}
	f.Add([]byte(doc()))
	f.Add([]byte(level1("application/pdf", `representation="B64"`, wrap("JVBERi0xLjcKJbW1tbUK", 8))))
	f.Add([]byte(withBody(`<paragraph>a<content styleCode="Bold Italics">b</content><br/></paragraph>` +
		`<list listType="ordered"><caption>c</caption><item>i</item></list>` +
		`<table><caption>t</caption><colgroup span="2"><col/></colgroup><thead><tr><th colspan="2">h</th></tr></thead>` +
		`<tbody><tr><td rowspan="2">d</td></tr></tbody></table>` +
		`<linkHtml href="https://example.org/">l</linkHtml><linkHtml href="javascript:alert(1)">j</linkHtml>` +
		`<renderMultiMedia referencedObject="x"/><footnote>n</footnote><footnoteRef IDREF="n"/>H<sub>2</sub>O<sup>3</sup>` +
		`&lt;script&gt;<script>alert(1)</script>`)))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`))
	f.Add([]byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><a><b><c/></b></a></ClinicalDocument>`))

	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := Parse(bytes.NewReader(in), 4<<20)
		if err != nil {
			if !errs.Is(err, errs.Invalid) || errs.MessageOf(err) == "" {
				t.Fatalf("refusal %v is not errs.Invalid with a message", err)
			}
			return
		}
		switch d.Level {
		case 1:
			if len(d.Content) == 0 || mediaTypes[d.MediaType] == nil {
				t.Fatalf("level 1 with %d bytes of %q", len(d.Content), d.MediaType)
			}
		case 3:
			if len(d.Sections) == 0 {
				t.Fatal("level 3 without sections")
			}
		default:
			t.Fatalf("level %d", d.Level)
		}
		if d.Patient.INS.Matricule != "" {
			if _, err := identity.NewINS(d.Patient.INS.Matricule, d.Patient.INS.System); err != nil {
				t.Fatalf("kept an INS that does not check: %v", err)
			}
		}
		if err := d.Check(identity.INS{Matricule: testINS, System: identity.OIDTestNIR}, "11488-4"); err != nil && !errs.Is(err, errs.Invalid) {
			t.Fatalf("Check: %v", err)
		}
		var b strings.Builder
		if err := RenderHTML(&b, d); err != nil {
			t.Fatalf("RenderHTML: %v", err)
		}
		if err := checkMarkup(b.String()); err != nil {
			t.Fatalf("%v in\n%s", err, b.String())
		}
	})
}

// seedOf reduces an example to a small document Parse still accepts: the coded entries go
// (the renderer never reads them), a level 1 content becomes a few bytes of PDF, and only the
// first sections stay. The mutator makes no progress on inputs of hundreds of kilobytes; the
// conformance tests parse the examples whole.
func seedOf(b []byte) []byte {
	root, err := parseTree(bytes.NewReader(b), DefaultMaxBytes)
	if err != nil {
		return b
	}
	prune(root, 0)
	var out bytes.Buffer
	out.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	serialize(&out, root, "")
	return out.Bytes()
}

func prune(n *Node, depth int) {
	kept := n.Children[:0]
	sections := 0
	for _, c := range n.Children {
		switch {
		case c.Name == "entry":
			continue
		case c.Name == "component" && c.child("section") != nil:
			if sections++; sections > 3 || depth > 6 {
				continue
			}
		case c.IsText() && n.Name == "text" && n.Attr("representation") == "B64":
			c = &Node{Text: "JVBERi0xLjcKJbW1tbUK"}
		}
		prune(c, depth+1)
		kept = append(kept, c)
	}
	n.Children = kept
}

// serialize writes n back as XML, with the attributes written without a prefix.
func serialize(w *bytes.Buffer, n *Node, parentSpace string) {
	if n.IsText() {
		w.WriteString(html.EscapeString(n.Text))
		return
	}
	w.WriteString("<" + n.Name)
	if n.Space != parentSpace {
		w.WriteString(` xmlns="` + html.EscapeString(n.Space) + `"`)
	}
	for _, a := range n.Attrs {
		if a.Name.Space == "" && a.Name.Local != "xmlns" {
			w.WriteString(" " + a.Name.Local + `="` + html.EscapeString(a.Value) + `"`)
		}
	}
	w.WriteString(">")
	for _, c := range n.Children {
		serialize(w, c, n.Space)
	}
	w.WriteString("</" + n.Name + ">")
}

// FuzzParseTS: ParseTS never panics, and what it accepts reads back the year, month and day
// that were written.
func FuzzParseTS(f *testing.F) {
	for _, s := range []string{"20210409153500+0100", "19790328", "2021", "20210409153500.123-0530", "20210431", "2021-04-09", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTS(s)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("error %v is not errs.Invalid", err)
			}
			return
		}
		if y, _ := strconv.Atoi(s[:4]); ts.Year() != y {
			t.Fatalf("%q read as year %d", s, ts.Year())
		}
		if len(s) >= 8 && isDigit(s[6]) && isDigit(s[7]) && s[4] != '+' && s[4] != '-' {
			m, _ := strconv.Atoi(s[4:6])
			d, _ := strconv.Atoi(s[6:8])
			if int(ts.Month()) != m || ts.Day() != d {
				t.Fatalf("%q read as %v", s, ts)
			}
		}
	})
}

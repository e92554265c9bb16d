package cda

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/carnet-sante/carnet/internal/errs"
)

// hl7NS is the namespace of every CDA R2 element (HL7 CDA R2, POCD_HD000040 schema).
const hl7NS = "urn:hl7-org:v3"

// Bounds of Parse. A clinical document is written by a sending system we do not control, so
// the parser must cost a bounded amount whatever it is given. The figures are our defaults:
// the CI-SIS examples have at most 3,200 elements (IPS-FR, 1.5 MB, mostly embedded PDFs) and
// nest at most 19 levels deep (VSM).
const (
	// DefaultMaxBytes is the size limit Parse applies when called with maxBytes <= 0.
	DefaultMaxBytes int64 = 32 << 20
	// MaxDepth is the deepest element nesting Parse accepts; it also bounds the recursion
	// of the section tree and of the narrative renderer.
	MaxDepth = 256
	// MaxElements is the number of elements Parse accepts. It bounds the memory of the tree,
	// which the byte limit alone does not ("<a/>" is four bytes and one node).
	MaxElements = 200_000
)

// Node is an element, or a run of character data, of a parsed XML tree. Sections keep their
// narrative block (section/text) as a Node tree for RenderHTML and for callers that index or
// search the text.
//
// A text node has an empty Name and carries Text. Outside narrative blocks (elements named
// text), character data made only of white space is dropped while parsing.
type Node struct {
	Name     string     // local name; "" for a text node
	Space    string     // namespace URI ("urn:hl7-org:v3" for CDA elements)
	Attrs    []xml.Attr // attributes as written, namespace prefixes resolved
	Text     string     // character data of a text node
	Children []*Node    // elements and text nodes, in document order
}

// IsText reports whether n is a run of character data rather than an element.
func (n *Node) IsText() bool { return n != nil && n.Name == "" }

// Attr returns the value of the attribute named local and written without a prefix, or "".
func (n *Node) Attr(local string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// InnerText returns the character data of n and of all its descendants, concatenated.
func (n *Node) InnerText() string {
	if n == nil {
		return ""
	}
	if n.IsText() {
		return n.Text
	}
	var b strings.Builder
	n.appendText(&b)
	return b.String()
}

func (n *Node) appendText(b *strings.Builder) {
	for _, c := range n.Children {
		if c.IsText() {
			b.WriteString(c.Text)
		} else {
			c.appendText(b)
		}
	}
}

// child returns the first CDA child element named local, or nil. Like the other helpers
// below it accepts a nil receiver, so that paths chain without checks.
func (n *Node) child(local string) *Node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Name == local && c.Space == hl7NS {
			return c
		}
	}
	return nil
}

// path follows child elements: n.path("a", "b") is n.child("a").child("b").
func (n *Node) path(locals ...string) *Node {
	for _, l := range locals {
		n = n.child(l)
	}
	return n
}

// all returns every CDA child element named local.
func (n *Node) all(local string) []*Node {
	if n == nil {
		return nil
	}
	var out []*Node
	for _, c := range n.Children {
		if c.Name == local && c.Space == hl7NS {
			out = append(out, c)
		}
	}
	return out
}

// text returns the character data of n with runs of white space collapsed to one space.
func (n *Node) text() string { return collapse(n.InnerText()) }

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// errTooLarge marks a document that went past the byte limit.
var errTooLarge = errors.New("cda: document too large")

// errCharset is what the decoder's CharsetReader answers for every encoding but UTF-8.
var errCharset = errors.New("cda: unsupported character encoding")

// limitReader is io.LimitedReader that says why it stopped: a byte past the limit is
// errTooLarge, where io.LimitedReader's EOF would read as a truncated document.
type limitReader struct {
	r   io.Reader
	n   int64 // bytes still allowed
	err error // the reader's own error, other than io.EOF
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// Read one more byte to tell "exactly at the limit" from "past it".
		var one [1]byte
		k, err := l.r.Read(one[:])
		if k > 0 {
			return 0, errTooLarge
		}
		return 0, l.keep(err)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	return k, l.keep(err)
}

func (l *limitReader) keep(err error) error {
	if err != nil && err != io.EOF {
		l.err = err
	}
	return err
}

// parseTree reads a whole XML document into a Node tree, within the bounds above.
//
// encoding/xml never fetches an external entity nor expands an entity declared in a DTD: with
// Decoder.Entity nil it knows only the five predefined entities and character references
// (XML 1.0 §4.6), and reports any other reference as an error. We go further and refuse any
// DOCTYPE (or other <!...> declaration) outright: a CDA document has no use for one, and
// refusing it closes the whole family of DTD tricks rather than relying on the decoder.
func parseTree(r io.Reader, maxBytes int64) (*Node, error) {
	lr := &limitReader{r: r, n: maxBytes}
	dec := xml.NewDecoder(lr)
	dec.Strict = true
	dec.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		// XML 1.0 §4.3.3: UTF-8 is the default; US-ASCII is a subset of it. CI-SIS documents
		// are UTF-8. encoding/xml itself accepts "utf-8" in any letter case.
		if strings.EqualFold(label, "us-ascii") || strings.EqualFold(label, "ascii") {
			return input, nil
		}
		return nil, errCharset
	}

	var (
		root     *Node
		stack    []*Node
		elements int
		inText   int // how many narrative (text) elements enclose the current position
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, treeError(err, lr, dec, maxBytes)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, errs.E(errs.Invalid, "CDA: content after the root element")
			}
			if len(stack) >= MaxDepth {
				return nil, errs.E(errs.Invalid, "CDA: elements nested deeper than %d levels", MaxDepth)
			}
			if elements++; elements > MaxElements {
				return nil, errs.E(errs.Invalid, "CDA: more than %d elements", MaxElements)
			}
			n := &Node{Name: t.Name.Local, Space: t.Name.Space}
			if len(t.Attr) > 0 {
				n.Attrs = append([]xml.Attr(nil), t.Attr...)
			}
			if len(stack) == 0 {
				root = n
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			}
			stack = append(stack, n)
			if n.Name == "text" && n.Space == hl7NS {
				inText++
			}
		case xml.EndElement:
			n := stack[len(stack)-1] // the decoder checks that tags balance
			stack = stack[:len(stack)-1]
			if n.Name == "text" && n.Space == hl7NS {
				inText--
			}
		case xml.CharData:
			blank := isBlank(t)
			if len(stack) == 0 {
				if !blank {
					return nil, errs.E(errs.Invalid, "CDA: text outside the root element")
				}
				continue
			}
			if blank && inText == 0 {
				continue
			}
			p := stack[len(stack)-1]
			if k := len(p.Children); k > 0 && p.Children[k-1].IsText() {
				// Two runs split by a comment or a processing instruction.
				p.Children[k-1].Text += string(t)
			} else {
				p.Children = append(p.Children, &Node{Text: string(t)})
			}
		case xml.Directive:
			return nil, errs.E(errs.Invalid, "CDA: DOCTYPE and other <!...> declarations are refused")
		case xml.Comment, xml.ProcInst:
			// Comments and processing instructions (xml-stylesheet, oxygen) carry nothing.
		}
	}
	if root == nil {
		return nil, errs.E(errs.Invalid, "CDA: no root element")
	}
	return root, nil
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func tooLarge(maxBytes int64) error {
	return errs.E(errs.Invalid, "CDA: document larger than %d bytes", maxBytes)
}

// treeError turns a decoder error into a safe message.
//
// An error of the reader itself (a connection cut, a request body over its limit) is not a
// fault of the document: it is returned wrapped, with whatever code it carries.
func treeError(err error, lr *limitReader, dec *xml.Decoder, maxBytes int64) error {
	if errors.Is(err, errTooLarge) {
		return tooLarge(maxBytes)
	}
	if lr.err != nil && errors.Is(err, lr.err) {
		return fmt.Errorf("CDA: read document: %w", err)
	}
	if errors.Is(err, errCharset) {
		return errs.E(errs.Invalid, "CDA: the document must be encoded in UTF-8")
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return errs.E(errs.Invalid, "CDA: not well-formed XML at line %d: %s", se.Line, syntaxReason(se.Msg))
	}
	line, _ := dec.InputPos()
	return errs.Wrap(errs.Invalid, err, "CDA: unreadable XML (line %d)", line)
}

// syntaxReason returns the decoder's reason for a syntax error without what it may quote of
// the document: its messages name elements, which is markup, but an undeclared entity is
// quoted up to the next ";", which can run into the text ("Dupont&Fils").
func syntaxReason(msg string) string {
	for _, cut := range []string{"invalid character entity", "invalid XML name"} {
		if strings.HasPrefix(msg, cut) {
			if cut == "invalid character entity" {
				return cut + " (a CDA document may use &lt; &gt; &amp; &apos; &quot; and character references only)"
			}
			return cut
		}
	}
	return msg
}

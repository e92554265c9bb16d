package xdm

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// node is an element of METADATA.XML.
type node struct {
	name     xml.Name
	attrs    []xml.Attr
	children []*node
	text     []byte // character data directly inside the element
}

// attr returns the attribute named local written without a prefix, or "".
func (n *node) attr(local string) string {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// is reports whether n is the ebRIM element local.
func (n *node) is(local string) bool { return n.name.Space == nsRIM && n.name.Local == local }

// child returns the first ebRIM child element named local, or nil.
func (n *node) child(local string) *node {
	for _, c := range n.children {
		if c.is(local) {
			return c
		}
	}
	return nil
}

// errCharset is what the decoder's CharsetReader answers for an encoding we do not read.
var errCharset = errors.New("unsupported character encoding (UTF-8 or ISO-8859-1 expected)")

// parseTree reads METADATA.XML into a tree, within the limits.
//
// encoding/xml fetches no external entity and expands no entity declared in a DTD (with
// Decoder.Entity nil it knows the five predefined entities and character references only,
// XML 1.0 §4.6). We refuse any DOCTYPE (or other <!…> declaration) anyway: ebRS metadata has
// no use for one, and refusing it closes the whole family of DTD tricks rather than relying
// on the decoder.
func parseTree(data []byte, maxDepth, maxElements int) (*node, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark, as Windows writes
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		// encoding/xml reads UTF-8 itself; CI-SIS requires it, but some older French senders
		// still write ISO-8859-1, a one-byte encoding that is easy to read exactly.
		switch strings.ToLower(label) {
		case "us-ascii", "ascii":
			return input, nil
		case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1":
			return &latin1Reader{r: input}, nil
		}
		return nil, errCharset
	}
	var (
		root     *node
		stack    []*node
		elements int
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, fmt.Errorf("line %d: a second root element", line(dec))
			}
			if elements++; elements > maxElements {
				return nil, fmt.Errorf("more than %d elements", maxElements)
			}
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("line %d: elements nested more than %d deep", line(dec), maxDepth)
			}
			n := &node{name: t.Name, attrs: t.Attr}
			if len(stack) == 0 {
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.text = append(p.text, t...)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("line %d: text outside the root element", line(dec))
			}
		case xml.Directive:
			return nil, fmt.Errorf("line %d: a DOCTYPE or other <!…> declaration, which is not accepted", line(dec))
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

func line(dec *xml.Decoder) int {
	l, _ := dec.InputPos()
	return l
}

// latin1Reader decodes ISO-8859-1 to UTF-8: every byte is the code point of the same value.
type latin1Reader struct {
	r   io.Reader
	out []byte // decoded bytes not yet returned
	err error
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	for len(l.out) == 0 {
		if l.err != nil {
			return 0, l.err
		}
		var in [1024]byte
		n, err := l.r.Read(in[:])
		for _, b := range in[:n] {
			l.out = utf8.AppendRune(l.out, rune(b))
		}
		l.err = err
		if n == 0 && err == nil {
			return 0, nil
		}
	}
	n := copy(p, l.out)
	l.out = l.out[n:]
	return n, nil
}

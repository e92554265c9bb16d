package cda

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/internal/errs"
)

// The words RenderHTML writes itself, French first (STYLE: pages). Kept together so that they
// can move to the translation catalogue in one go.
var labels = struct {
	Date, Patient, Author, Authors, LegalAuthenticator string
	BornF, BornM, BornX, At, Media                     string
}{
	Date:               "Date",
	Patient:            "Patient",
	Author:             "Auteur",
	Authors:            "Auteurs",
	LegalAuthenticator: "Responsable",
	BornF:              "née le",
	BornM:              "né le",
	BornX:              "né(e) le",
	At:                 "à",
	Media:              "[contenu multimédia non affiché]",
}

// RenderHTML writes d as an HTML fragment: an <article> whose <header> gives the title, the
// date, the patient and the authors, followed for a structured document by its sections
// (<section> with an <h2>, subsections <h3> and below) and their narrative blocks.
//
// For a level 1 document it writes the header only: the caller serves Content, with
// MediaType, on its own.
//
// Safety: every piece of text from the document is escaped, and no element or attribute of
// the document is copied. Each CDA narrative element maps to HTML elements and attributes we
// choose: styleCode to a fixed set of tags and classes, colspan/rowspan/span to integers,
// linkHtml to a link only for an http or https URL (with rel="noopener noreferrer"), and
// renderMultiMedia to a placeholder. Other elements are dropped and their text kept.
//
// The fragment is built in memory and written with one Write.
func RenderHTML(w io.Writer, d *Document) error {
	if d == nil {
		return errs.E(errs.Invalid, "CDA: no document to render")
	}
	var r renderer
	r.document(d)
	if _, err := w.Write(r.b.Bytes()); err != nil {
		return fmt.Errorf("render CDA document: %w", err)
	}
	return nil
}

type renderer struct {
	b      bytes.Buffer
	inLink bool // inside an <a>: a nested linkHtml renders as text
}

func (r *renderer) raw(s string) { r.b.WriteString(s) }

// text writes s escaped for HTML text and quoted attribute values.
func (r *renderer) text(s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		default:
			continue
		}
		r.b.WriteString(s[last:i])
		r.b.WriteString(esc)
		last = i + 1
	}
	r.b.WriteString(s[last:])
}

func (r *renderer) document(d *Document) {
	r.raw(`<article class="cda-document"`)
	if lang := htmlLang(d.LanguageCode); lang != "" {
		r.raw(` lang="` + lang + `"`)
	}
	r.raw(">\n<header class=\"cda-header\">\n<h1>")
	r.text(d.Title)
	r.raw("</h1>\n<dl>\n")
	if !d.EffectiveTime.IsZero() {
		r.raw("<dt>" + labels.Date + "</dt><dd>")
		r.time(d.EffectiveTime)
		r.raw("</dd>\n")
	}
	if name := d.Patient.Name.String(); name != "" || !d.Patient.BirthTime.IsZero() {
		r.raw("<dt>" + labels.Patient + "</dt><dd>")
		r.text(name)
		if bt := d.Patient.BirthTime; !bt.IsZero() {
			born := labels.BornX
			switch d.Patient.Gender {
			case "F":
				born = labels.BornF
			case "M":
				born = labels.BornM
			}
			if name != "" {
				r.raw(", ")
			}
			r.raw(born + " ")
			r.time(bt)
		}
		r.raw("</dd>\n")
	}
	if len(d.Authors) > 0 {
		if len(d.Authors) == 1 {
			r.raw("<dt>" + labels.Author + "</dt>")
		} else {
			r.raw("<dt>" + labels.Authors + "</dt>")
		}
		for _, a := range d.Authors {
			r.participant(a)
		}
		r.raw("\n")
	}
	if la := d.LegalAuthenticator; la != nil {
		r.raw("<dt>" + labels.LegalAuthenticator + "</dt>")
		r.participant(*la)
		r.raw("\n")
	}
	r.raw("</dl>\n</header>\n")
	if d.Level == 3 {
		for _, s := range d.Sections {
			r.section(s, 2)
		}
	}
	r.raw("</article>\n")
}

func (r *renderer) participant(p Participant) {
	r.raw("<dd>")
	who := p.Name.String()
	if who == "" {
		who = p.Device
	}
	r.text(who)
	if p.Code.DisplayName != "" {
		r.raw(" (")
		r.text(p.Code.DisplayName)
		r.raw(")")
	}
	if p.Organization.Name != "" {
		if who != "" || p.Code.DisplayName != "" {
			r.raw(", ")
		}
		r.text(p.Organization.Name)
	}
	r.raw("</dd>")
}

// time writes t in its own offset: "09/04/2021 à 15:35", or "28/03/1979" for a date, which
// ParseTS reads as midnight UTC.
func (r *renderer) time(t time.Time) {
	dateOnly := t.Location() == time.UTC && t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
	if dateOnly {
		r.raw(`<time datetime="` + t.Format("2006-01-02") + `">` + t.Format("02/01/2006") + "</time>")
		return
	}
	r.raw(`<time datetime="` + t.Format(time.RFC3339) + `">` + t.Format("02/01/2006") + " " + labels.At + " " + t.Format("15:04") + "</time>")
}

// htmlLang returns code when it looks like a BCP 47 tag (letters, digits and hyphens), else "".
func htmlLang(code string) string {
	if code == "" || len(code) > 35 {
		return ""
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return ""
		}
	}
	return code
}

func (r *renderer) section(s *Section, level int) {
	h := strconv.Itoa(min(level, 6))
	r.raw(`<section class="cda-section">` + "\n")
	title := s.Title
	if title == "" {
		title = s.Code.DisplayName
	}
	if title != "" {
		r.raw("<h" + h + ">")
		r.text(title)
		r.raw("</h" + h + ">\n")
	}
	if s.Text != nil {
		r.raw(`<div class="cda-text">`)
		r.children(s.Text)
		r.raw("</div>\n")
	}
	for _, sub := range s.Sections {
		r.section(sub, level+1)
	}
	r.raw("</section>\n")
}

func (r *renderer) children(n *Node) {
	for _, c := range n.Children {
		r.node(c, n)
	}
}

// node renders one node of a narrative block (CDA R2 StrucDoc.Text). The tree is at most
// MaxDepth deep, which bounds the recursion.
func (r *renderer) node(n, parent *Node) {
	if n.IsText() {
		r.text(n.Text)
		return
	}
	if n.Space != hl7NS {
		r.children(n)
		return
	}
	switch n.Name {
	case "paragraph":
		r.element("p", n, "")
	case "content":
		r.content(n)
	case "br":
		r.raw("<br>")
	case "list":
		r.list(n)
	case "item":
		r.element("li", n, "")
	case "table":
		r.element("table", n, "cda-table")
	case "thead", "tbody", "tfoot", "tr":
		r.element(n.Name, n, "")
	case "th", "td":
		r.cell(n)
	case "caption":
		if parent != nil && parent.Name == "table" {
			r.element("caption", n, "")
		} else {
			r.element("strong", n, "cda-caption")
		}
	case "colgroup":
		r.raw("<colgroup" + spanAttr("span", n.Attr("span")) + ">")
		for _, c := range n.Children {
			if c.Name == "col" && c.Space == hl7NS {
				r.node(c, n)
			}
		}
		r.raw("</colgroup>")
	case "col":
		r.raw("<col" + spanAttr("span", n.Attr("span")) + ">")
	case "sub", "sup":
		r.raw("<" + n.Name + ">")
		r.children(n)
		r.raw("</" + n.Name + ">")
	case "footnote":
		r.element("small", n, "cda-footnote")
	case "footnoteRef":
		r.raw(`<sup class="cda-footnote-ref">*</sup>`)
	case "linkHtml":
		r.link(n)
	case "renderMultiMedia":
		r.raw(`<span class="cda-media">` + labels.Media + "</span>")
		r.children(n) // its caption, if any
	default:
		// Not a narrative element (or one we do not know): keep its text, drop the markup.
		r.children(n)
	}
}

// element writes <tag class="…"> (classes from base and styleCode), the children, </tag>.
func (r *renderer) element(tag string, n *Node, base string) {
	r.raw("<" + tag + classAttr(base, n.Attr("styleCode")) + ">")
	r.children(n)
	r.raw("</" + tag + ">")
}

// styleClasses maps the HL7 styleCode vocabulary (CDA R2 §4.3.5.11) to our classes.
// BoldItalics is no HL7 code, but the CI-SIS examples write it.
var styleClasses = map[string]string{
	"Bold":        "cda-bold",
	"Italics":     "cda-italics",
	"Underline":   "cda-underline",
	"Emphasis":    "cda-emphasis",
	"BoldItalics": "cda-bold cda-italics",
	"Lrule":       "cda-lrule",
	"Rrule":       "cda-rrule",
	"Toprule":     "cda-toprule",
	"Botrule":     "cda-botrule",
	"Disc":        "cda-disc",
	"Circle":      "cda-circle",
	"Square":      "cda-square",
}

func classAttr(base, styleCode string, extra ...string) string {
	cls := []string{}
	if base != "" {
		cls = append(cls, base)
	}
	for _, tok := range strings.Fields(styleCode) {
		if c, ok := styleClasses[tok]; ok {
			cls = append(cls, c)
		}
	}
	cls = append(cls, extra...)
	if len(cls) == 0 {
		return ""
	}
	return ` class="` + strings.Join(cls, " ") + `"`
}

// contentTags maps the styleCode of <content> to inline HTML, in a fixed nesting order.
var contentTags = []struct{ code, tag string }{
	{"Bold", "b"}, {"BoldItalics", "b"}, {"Italics", "i"}, {"BoldItalics", "i"},
	{"Underline", "u"}, {"Emphasis", "em"},
}

func (r *renderer) content(n *Node) {
	var tags []string
	switch n.Attr("revised") {
	case "delete":
		tags = append(tags, "del")
	case "insert":
		tags = append(tags, "ins")
	}
	sc := n.Attr("styleCode")
	for _, ct := range contentTags {
		if hasToken(sc, ct.code) && (len(tags) == 0 || tags[len(tags)-1] != ct.tag) {
			tags = append(tags, ct.tag)
		}
	}
	for _, t := range tags {
		r.raw("<" + t + ">")
	}
	r.children(n)
	for i := len(tags) - 1; i >= 0; i-- {
		r.raw("</" + tags[i] + ">")
	}
}

// olTypes maps the list styleCodes of CDA R2 to the type attribute of <ol>.
var olTypes = map[string]string{"Arabic": "1", "LittleRoman": "i", "BigRoman": "I", "LittleAlpha": "a", "BigAlpha": "A"}

func (r *renderer) list(n *Node) {
	for _, c := range n.Children {
		if c.Name == "caption" && c.Space == hl7NS {
			r.node(c, n)
		}
	}
	tag := "ul"
	var typ string
	if n.Attr("listType") == "ordered" {
		tag = "ol"
		for _, tok := range strings.Fields(n.Attr("styleCode")) {
			if t, ok := olTypes[tok]; ok {
				typ = ` type="` + t + `"`
			}
		}
	}
	r.raw("<" + tag + classAttr("", n.Attr("styleCode")) + typ + ">")
	for _, c := range n.Children {
		switch {
		case c.Space == hl7NS && c.Name == "item":
			r.node(c, n)
		case c.Space == hl7NS && c.Name == "caption":
			// written above
		case c.IsText() && strings.TrimSpace(c.Text) == "":
			r.text(c.Text)
		default:
			// Stray content in a list: keep it, in an item of its own.
			r.raw("<li>")
			r.node(c, n)
			r.raw("</li>")
		}
	}
	r.raw("</" + tag + ">")
}

// alignClasses maps the align attribute of a table cell.
var alignClasses = map[string]string{
	"left": "cda-align-left", "center": "cda-align-center", "right": "cda-align-right", "justify": "cda-align-justify",
}

func (r *renderer) cell(n *Node) {
	var extra []string
	if c, ok := alignClasses[n.Attr("align")]; ok {
		extra = append(extra, c)
	}
	r.raw("<" + n.Name + classAttr("", n.Attr("styleCode"), extra...) +
		spanAttr("colspan", n.Attr("colspan")) + spanAttr("rowspan", n.Attr("rowspan")) + ">")
	r.children(n)
	r.raw("</" + n.Name + ">")
}

// spanAttr writes name="n" when v is an integer from 1 to 1000 (HTML's bound for colspan),
// else nothing.
func spanAttr(name, v string) string {
	k, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || k < 1 || k > 1000 {
		return ""
	}
	return " " + name + `="` + strconv.Itoa(k) + `"`
}

func (r *renderer) link(n *Node) {
	href, ok := safeURL(n.Attr("href"))
	if !ok || r.inLink {
		r.children(n)
		return
	}
	r.raw(`<a href="`)
	r.text(href)
	r.raw(`" rel="noopener noreferrer">`)
	r.inLink = true
	if strings.TrimSpace(n.InnerText()) == "" {
		r.text(href)
	} else {
		r.children(n)
	}
	r.inLink = false
	r.raw("</a>")
}

// safeURL returns s, normalised, when it is an absolute http or https URL with a host.
func safeURL(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" || u.User != nil {
		return "", false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u.String(), true
	}
	return "", false
}

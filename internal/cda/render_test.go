package cda

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func mustRender(tb testing.TB, d *Document) string {
	tb.Helper()
	var b strings.Builder
	if err := RenderHTML(&b, d); err != nil {
		tb.Fatalf("RenderHTML: %v", err)
	}
	out := b.String()
	if err := checkMarkup(out); err != nil {
		tb.Fatalf("%v in\n%s", err, out)
	}
	return out
}

// The only elements and attributes RenderHTML may write.
var (
	allowedTags = setOf("article", "header", "h1", "h2", "h3", "h4", "h5", "h6", "dl", "dt", "dd", "time",
		"section", "div", "p", "b", "i", "u", "em", "del", "ins", "br", "ul", "ol", "li", "table", "caption",
		"colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td", "strong", "sub", "sup", "small", "a", "span")
	allowedAttrs = setOf("class", "lang", "datetime", "href", "rel", "colspan", "rowspan", "span", "type")
)

func setOf(s ...string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}

// checkMarkup verifies that every tag of out is one RenderHTML may write, with allowed
// attributes only, quoted, every link going to http or https, and that start and end tags
// balance. Text is escaped by RenderHTML, so every "<" of out opens one of its tags.
func checkMarkup(out string) error {
	var stack []string
	for i := 0; i < len(out); i++ {
		if out[i] != '<' {
			continue
		}
		j := strings.IndexByte(out[i:], '>')
		if j < 0 {
			return errors.New("unterminated tag")
		}
		tag := out[i+1 : i+j]
		i += j
		end := strings.HasPrefix(tag, "/")
		name, attrs, _ := strings.Cut(strings.TrimPrefix(tag, "/"), " ")
		if !allowedTags[name] {
			return fmt.Errorf("element <%s> not allowed", tag)
		}
		if end {
			if len(stack) == 0 || stack[len(stack)-1] != name {
				return fmt.Errorf("</%s> closes %v", name, stack)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		if name != "br" && name != "col" {
			stack = append(stack, name)
		}
		for attrs != "" {
			a, rest, ok := strings.Cut(strings.TrimLeft(attrs, " "), `="`)
			if !ok {
				return fmt.Errorf("attribute without a quoted value in <%s>", tag)
			}
			v, rest, ok := strings.Cut(rest, `"`)
			if !ok {
				return fmt.Errorf("unterminated attribute in <%s>", tag)
			}
			if !allowedAttrs[a] {
				return fmt.Errorf("attribute %s not allowed in <%s>", a, tag)
			}
			if a == "href" && !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
				return fmt.Errorf("link to %q", v)
			}
			attrs = rest
		}
	}
	if len(stack) != 0 {
		return fmt.Errorf("unclosed %v", stack)
	}
	if strings.Contains(strings.ToLower(out), "<script") {
		return errors.New("<script in the output")
	}
	return nil
}

func TestRenderHeader(t *testing.T) {
	out := mustRender(t, mustParse(t, doc("{{title}}", "CR &lt;b&gt;&amp; \"suite\"&lt;/b&gt;")))
	for _, want := range []string{
		`<article class="cda-document" lang="fr-FR">`,
		`<h1>CR &lt;b&gt;&amp; &#34;suite&#34;&lt;/b&gt;</h1>`,
		`<dt>Date</dt><dd><time datetime="2024-01-05T10:30:00+01:00">05/01/2024 à 10:30</time></dd>`,
		`<dt>Patient</dt><dd>ALI USAGE, née le <time datetime="1979-03-28">28/03/1979</time></dd>`,
		`<dt>Auteurs</dt><dd>Jean DUPONT (Médecin - Qualifié en Médecine Générale (SM)), Cabinet du Dr DUPONT</dd><dd>Logiciel LAB</dd>`,
		`<dt>Responsable</dt><dd>Jean DUPONT</dd>`,
		"<section class=\"cda-section\">\n<h2>Motif de la consultation</h2>",
		"<section class=\"cda-section\">\n<h3>Sous-section</h3>",
		"<h2>Sans titre</h2>", // no title: the section code's label
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s\n%s", want, out)
		}
	}
}

func TestRenderLevel1HeaderOnly(t *testing.T) {
	d := mustParse(t, level1("application/pdf", `representation="B64"`, "JVBERi0xLjcK"))
	out := mustRender(t, d)
	if !strings.Contains(out, "<h1>Compte rendu de consultation</h1>") || strings.Contains(out, "<section") {
		t.Errorf("level 1 output:\n%s", out)
	}
	if !strings.HasSuffix(out, "</header>\n</article>\n") {
		t.Errorf("level 1 output does not end after its header:\n%s", out)
	}
}

func TestRenderNarrative(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"paragraph", `<paragraph>Un <content styleCode="Bold">deux</content></paragraph>`, `<p>Un <b>deux</b></p>`},
		{"italics underline emphasis", `<content styleCode="Italics">a</content><content styleCode="Underline">b</content><content styleCode="Emphasis">c</content>`,
			`<i>a</i><u>b</u><em>c</em>`},
		{"several style codes", `<content styleCode="Bold Italics Underline">x</content>`, `<b><i><u>x</u></i></b>`},
		{"BoldItalics", `<content styleCode="BoldItalics">x</content>`, `<b><i>x</i></b>`},
		{"unknown style code", `<content styleCode="Blink xx">x</content>`, `>x<`},
		{"revised", `<content revised="delete">old</content><content revised="insert" styleCode="Bold">new</content>`,
			`<del>old</del><ins><b>new</b></ins>`},
		{"content ID dropped", `<content ID="vac-01">Vaccin</content>`, `<div class="cda-text">Vaccin</div>`},
		{"br", `a<br/>b`, `a<br>b`},
		{"unordered list", `<list><item>a</item><item>b</item></list>`, `<ul><li>a</li><li>b</li></ul>`},
		{"ordered list", `<list listType="ordered" styleCode="BigRoman"><caption>Étapes</caption><item>a</item></list>`,
			`<strong class="cda-caption">Étapes</strong><ol type="I"><li>a</li></ol>`},
		{"stray text in a list", `<list>x<item>a</item></list>`, `<ul><li>x</li><li>a</li></ul>`},
		{"table", `<table border="1" width="100%" styleCode="Toprule"><caption>Résultats</caption><colgroup span="2"><col span="1"/><col/></colgroup>` +
			`<thead><tr><th colspan="2" align="center" styleCode="Bold">T</th></tr></thead>` +
			`<tbody><tr><td rowspan="3">1</td><td colspan="x" valign="top">2</td></tr></tbody><tfoot><tr><td>f</td></tr></tfoot></table>`,
			`<table class="cda-table cda-toprule"><caption>Résultats</caption><colgroup span="2"><col span="1"><col></colgroup>` +
				`<thead><tr><th class="cda-bold cda-align-center" colspan="2">T</th></tr></thead>` +
				`<tbody><tr><td rowspan="3">1</td><td>2</td></tr></tbody><tfoot><tr><td>f</td></tr></tfoot></table>`},
		{"huge colspan", `<table><tbody><tr><td colspan="100000">x</td></tr></tbody></table>`, `<td>x</td>`},
		{"sub sup", `H<sub>2</sub>O m<sup>2</sup>`, `H<sub>2</sub>O m<sup>2</sup>`},
		{"footnote", `a<footnoteRef IDREF="n1"/><footnote ID="n1">note</footnote>`, `a<sup class="cda-footnote-ref">*</sup><small class="cda-footnote">note</small>`},
		{"paragraph caption", `<paragraph><caption>Titre</caption>texte</paragraph>`, `<p><strong class="cda-caption">Titre</strong>texte</p>`},
		{"https link", `<linkHtml href="https://www.orpha.net/fiche.pdf" target="_top" onclick="x()">Fiche</linkHtml>`,
			`<a href="https://www.orpha.net/fiche.pdf" rel="noopener noreferrer">Fiche</a>`},
		{"http link with query", `<linkHtml href="http://example.org/wado?requestType=WADO&amp;studyUID=1.2">images</linkHtml>`,
			`<a href="http://example.org/wado?requestType=WADO&amp;studyUID=1.2" rel="noopener noreferrer">images</a>`},
		{"link without text", `<linkHtml href="https://example.org/"/>`, `<a href="https://example.org/" rel="noopener noreferrer">https://example.org/</a>`},
		{"javascript link", `<linkHtml href="javascript:alert(1)">clic</linkHtml>`, `<div class="cda-text">clic</div>`},
		{"javascript link, mixed case and spaces", `<linkHtml href=" JaVaScRiPt:alert(1)">clic</linkHtml>`, `<div class="cda-text">clic</div>`},
		{"data link", `<linkHtml href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">clic</linkHtml>`, `<div class="cda-text">clic</div>`},
		{"relative link", `<linkHtml href="/admin">clic</linkHtml>`, `<div class="cda-text">clic</div>`},
		{"protocol-relative link", `<linkHtml href="//evil.example/">clic</linkHtml>`, `<div class="cda-text">clic</div>`},
		{"link with credentials", `<linkHtml href="https://bank.example@evil.example/">clic</linkHtml>`, `<div class="cda-text">clic</div>`},
		{"link breaking out of the attribute", `<linkHtml href="https://example.org/&quot;onmouseover=&quot;alert(1)">x</linkHtml>`,
			`href="https://example.org/%22onmouseover=%22alert%281%29"`},
		{"nested links", `<linkHtml href="https://a.example/">a <linkHtml href="https://b.example/">b</linkHtml></linkHtml>`,
			`<a href="https://a.example/" rel="noopener noreferrer">a b</a>`},
		{"renderMultiMedia", `<renderMultiMedia referencedObject="doc-1"><caption>Radio</caption></renderMultiMedia>`,
			`<span class="cda-media">[contenu multimédia non affiché]</span><strong class="cda-caption">Radio</strong>`},
		{"escaped text", `&lt;script&gt;alert("x")&lt;/script&gt; &amp; l'été`, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; l&#39;été`},
		{"CDATA", `<![CDATA[<script>alert(1)</script>]]>`, `&lt;script&gt;alert(1)&lt;/script&gt;`},
		{"script element of the document", `<script>alert(1)</script>`, `<div class="cda-text">alert(1)</div>`},
		{"XHTML in another namespace", `<h:script xmlns:h="http://www.w3.org/1999/xhtml" h:src="x.js">alert(1)</h:script><h:img xmlns:h="http://www.w3.org/1999/xhtml" src="x" onerror="alert(1)"/>`,
			`<div class="cda-text">alert(1)</div>`},
		{"style and event attributes dropped", `<paragraph style="color:red" onclick="alert(1)" ID="p1" class="x">a</paragraph>`, `<p>a</p>`},
		{"reference kept as text", `<content>a<reference value="#x"/>b</content>`, `ab`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := mustRender(t, mustParse(t, withBody(tt.in)))
			if !strings.Contains(out, tt.want) {
				t.Errorf("output lacks %s\n%s", tt.want, out)
			}
			for _, bad := range []string{"onclick", "onerror", "onmouseover=\"", "style=", "javascript:", "target=", ` ID="`, ` id="`, "src="} {
				if strings.Contains(out, bad) {
					t.Errorf("output has %s\n%s", bad, out)
				}
			}
		})
	}
}

// Headings go from h2 down to h6 and stay there.
func TestRenderDeepSections(t *testing.T) {
	body := ""
	for i := 7; i >= 1; i-- {
		body = fmt.Sprintf(`<component><section><title>Niveau %d</title>%s</section></component>`, i, body)
	}
	out := mustRender(t, mustParse(t, doc("{{body}}", "<structuredBody>"+body+"</structuredBody>")))
	for i, h := range []string{"h2", "h3", "h4", "h5", "h6", "h6", "h6"} {
		if want := fmt.Sprintf("<%s>Niveau %d</%s>", h, i+1, h); !strings.Contains(out, want) {
			t.Errorf("output lacks %s", want)
		}
	}
}

func TestRenderNil(t *testing.T) {
	var b strings.Builder
	mustInvalid(t, RenderHTML(&b, nil), "no document")
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestRenderWriteError(t *testing.T) {
	if err := RenderHTML(failingWriter{}, mustParse(t, doc())); err == nil {
		t.Error("no error from a failing writer")
	}
}

func TestHTMLLang(t *testing.T) {
	for in, want := range map[string]string{"fr-FR": "fr-FR", "fr": "fr", "": "", `fr" onload="x`: "", "fr FR": "", strings.Repeat("a", 36): ""} {
		if got := htmlLang(in); got != want {
			t.Errorf("htmlLang(%q) = %q, want %q", in, got, want)
		}
	}
}

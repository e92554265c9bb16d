package demo

import (
	"bytes"
	"fmt"
	"strings"
)

// PDF returns a small but real PDF 1.4 document: one A4 page with a title and lines of text
// in Helvetica, an exact cross-reference table, readable by any viewer. Text is written in
// WinAnsi (French accents included); other characters become '?'.
func PDF(title string, lines []string) []byte {
	var content bytes.Buffer
	content.WriteString("BT /F1 16 Tf 56 780 Td (" + pdfString(title) + ") Tj ET\n")
	y := 748
	for _, l := range lines {
		if y < 60 {
			break
		}
		content.WriteString(fmt.Sprintf("BT /F1 11 Tf 56 %d Td (%s) Tj ET\n", y, pdfString(l)))
		y -= 16
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
		fmt.Sprintf("<< /Title (%s) /Producer (carnet demo) >>", pdfString(title)),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, len(objs), xref)
	return b.Bytes()
}

// pdfString escapes s for a PDF literal string in WinAnsi encoding.
func pdfString(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r >= 0xa0 && r <= 0xff: // Latin-1 = WinAnsi for these
			fmt.Fprintf(&b, "\\%03o", r)
		case r == '’':
			b.WriteString("'")
		case r == '€':
			b.WriteString("\\200")
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

package xdm_test

import (
	"bytes"
	"testing"

	"github.com/carnet-sante/carnet/internal/xdm"
)

// BenchmarkRead reads a package of 10 documents of 50 KB each (the size of a typical
// structured CDA), as an MSSanté message or a record import brings them.
func BenchmarkRead(b *testing.B) {
	p := samplePackage(10)
	for i := range p.Documents {
		content := bytes.Repeat([]byte("<section>Résultat d'examen n°"+string(rune('0'+i))+"</section>\n"), 1250)
		p.Documents[i].Content, p.Documents[i].Size, p.Documents[i].SHA1 = content, 0, ""
	}
	zip := mustWrite(b, p)
	b.SetBytes(int64(len(zip)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := xdm.Read(bytes.NewReader(zip), int64(len(zip)), xdm.Limits{})
		if err != nil || len(got.Documents) != 10 {
			b.Fatalf("%d documents, %v", len(got.Documents), err)
		}
	}
}

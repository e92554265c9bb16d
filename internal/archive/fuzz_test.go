package archive

import (
	"archive/zip"
	"bytes"
	"testing"
)

// FuzzZipEntries: the count read ahead of the central directory never panics, and agrees
// with the directory whenever Go's reader takes the file.
func FuzzZipEntries(f *testing.F) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"manifest.json", "record.json", "documents/a.pdf"} {
		w, _ := zw.Create(name)
		w.Write([]byte(name))
	}
	zw.SetComment("carnet")
	zw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("hello"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := zipEntries(bytes.NewReader(b), int64(len(b)))
		zr, zerr := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if zerr == nil && err == nil && uint16(n) != uint16(len(zr.File)) {
			t.Fatalf("zipEntries says %d, the directory holds %d", n, len(zr.File))
		}
	})
}

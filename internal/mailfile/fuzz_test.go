package mailfile_test

import (
	"archive/zip"
	"bytes"
	"testing"

	"github.com/carnet-sante/carnet/internal/mail/mailtest"
	"github.com/carnet-sante/carnet/internal/mailfile"
	"github.com/carnet-sante/carnet/internal/xdm"
)

// IsXDM finds packages by name and by their entries' names, whatever the sender called them.
func TestIsXDM(t *testing.T) {
	pkgZip := pkg(t, mailtest.INS(1), author("810002422979", "MARTIN", "Claire"), 1, "d")
	var other bytes.Buffer
	zw := zip.NewWriter(&other)
	w, _ := zw.Create("photos/IHE_XDM.txt")
	w.Write([]byte("IHE_XDM/ is not a directory here"))
	zw.Close()
	cases := []struct {
		name string
		data []byte
		want bool
	}{
		{"IHE_XDM.ZIP", pkgZip, true},
		{"ihe_xdm.zip", pkgZip, true},
		{"envoi.zip", pkgZip, true},
		{"envoi.zip", other.Bytes(), false},
		{"IHE_XDM.ZIP", []byte("%PDF-1.4 not a zip"), false},
		{"cr.pdf", []byte("%PDF-1.4 IHE_XDM/SUBSET01/METADATA.XML"), false},
		{"envoi.exe", append([]byte("MZ self-extracting\x00"), pkgZip...), true},
	}
	for _, c := range cases {
		if got := mailfile.IsXDM(c.name, c.data); got != c.want {
			t.Errorf("IsXDM(%q, %d bytes) = %v, want %v", c.name, len(c.data), got, c.want)
		}
	}
}

// Attachments come from outside: IsXDM never panics, and finds every package xdm.Read
// accepts, whatever its name.
func FuzzIsXDM(f *testing.F) {
	f.Add("IHE_XDM.ZIP", pkg(f, mailtest.INS(1), author("810002422979", "MARTIN", "Claire"), 2, "f"))
	f.Add("x.zip", []byte("PK\x03\x04IHE_XDM/SUBSET01/METADATA.XMLPK\x05\x06"))
	f.Add("x.zip", []byte("PK\x05\x06"))
	f.Add("", []byte("PK\x03\x04ihe_xdm/a/metadata.xml\x00"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		found := mailfile.IsXDM(name, data)
		if _, err := xdm.Read(bytes.NewReader(data), int64(len(data)), xdm.Limits{}); err == nil && !found {
			t.Fatalf("a package xdm.Read accepts is not found (%q)", name)
		}
	})
}

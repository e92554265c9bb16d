package xdm_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/xdm"
)

func deflate(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestSpeed)
	if err != nil {
		tb.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// replaceFile rebuilds a zip with the file name's bytes replaced.
func replaceFile(tb testing.TB, b []byte, name string, data []byte) []byte {
	tb.Helper()
	return rezip(tb, b, func(n string, d []byte) (string, []byte) {
		if n == name {
			return n, data
		}
		return n, d
	})
}

// without rebuilds a zip without the file name, adding extra entries.
func without(tb testing.TB, b []byte, name string, extra ...entry) []byte {
	tb.Helper()
	return rezip(tb, b, func(n string, d []byte) (string, []byte) {
		if n == name {
			return "", nil
		}
		return n, d
	}, extra...)
}

// Every refusal is an errs.Invalid that says what is wrong.
func TestReadRefuses(t *testing.T) {
	p := samplePackage(2)
	good := mustWrite(t, p)
	doc1 := p.Documents[0]
	const uri1 = "<rim:Value>DOC0001.PDF</rim:Value>"
	uri := func(u string) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return editMetadata(t, good, uri1, "<rim:Value>"+u+"</rim:Value>") }
	}
	meta := func(old, new string) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return editMetadata(t, good, old, new) }
	}
	extra := func(e ...entry) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			return rezip(t, good, func(n string, d []byte) (string, []byte) { return n, d }, e...)
		}
	}
	zeros := func(n int) []byte { return make([]byte, n) }
	// bigDoc is a package whose one document is n bytes of zeros, which deflate to little.
	bigDoc := func(n ...int) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			q := samplePackage(len(n))
			for i, size := range n {
				q.Documents[i].Content, q.Documents[i].Size, q.Documents[i].SHA1 = zeros(size), 0, ""
			}
			return mustWrite(t, q)
		}
	}
	otherINS := "184077512345657^^^&amp;1.2.250.1.213.1.4.8&amp;ISO^NH"

	cases := []struct {
		name   string
		build  func(t *testing.T) []byte
		limits xdm.Limits
		want   string
	}{
		{name: "empty", build: func(*testing.T) []byte { return nil }, want: "the archive is empty"},
		{name: "not a zip", build: func(*testing.T) []byte { return []byte("Bonjour, voici le compte rendu.") }, want: "not a readable zip file"},
		{name: "missing METADATA.XML", build: func(t *testing.T) []byte { return without(t, good, "IHE_XDM/SUBSET01/METADATA.XML") },
			want: "holds no IHE_XDM/<subset>/METADATA.XML"},
		{name: "METADATA.XML misplaced", build: func(t *testing.T) []byte {
			return without(t, good, "IHE_XDM/SUBSET01/METADATA.XML", entry{name: "IHE_XDM/METADATA.XML", data: metadataOf(t, good)})
		}, want: "holds no IHE_XDM/<subset>/METADATA.XML"},

		// The bytes against their metadata.
		{name: "bad hash", build: func(t *testing.T) []byte {
			forged := bytes.Clone(doc1.Content)
			forged[len(forged)-2] ^= 1
			return replaceFile(t, good, doc1.Path, forged)
		}, want: "document IHE_XDM/SUBSET01/DOC0001.PDF: the hash stated does not match its bytes"},
		{name: "bad size", build: func(t *testing.T) []byte {
			return replaceFile(t, good, doc1.Path, append(bytes.Clone(doc1.Content), '\n'))
		}, want: fmt.Sprintf("document IHE_XDM/SUBSET01/DOC0001.PDF: the size stated (%d) is not the document's (%d bytes)", len(doc1.Content), len(doc1.Content)+1)},
		{name: "hash missing", build: meta(`name="hash"`, `name="hash2"`), want: "document 1: the hash slot is missing"},
		{name: "hash not hex", build: meta(doc1.SHA1, "sha1:"+doc1.SHA1[5:]), want: "is not a SHA-1 in hexadecimal"},
		{name: "size missing", build: meta(`name="size"`, `name="taille"`), want: "the size slot is missing"},
		{name: "size not a number", build: meta(fmt.Sprintf("<rim:Value>%d</rim:Value>", doc1.Size), "<rim:Value>-1</rim:Value>"), want: "is not a number of bytes"},

		// Names that reach out of the package.
		{name: "entry ../", build: extra(entry{name: "../evil.sh", data: []byte("x")}), want: `entry named "../evil.sh", which is not accepted`},
		{name: "entry in the middle ..", build: extra(entry{name: "IHE_XDM/../../evil.sh", data: []byte("x")}), want: "'..' path element"},
		{name: "entry absolute", build: extra(entry{name: "/etc/cron.d/evil", data: []byte("x")}), want: "absolute path"},
		{name: "entry backslash", build: extra(entry{name: `IHE_XDM\SUBSET01\..\..\evil.bat`, data: []byte("x")}), want: "backslash"},
		{name: "entry drive", build: extra(entry{name: "C:/Windows/evil.bat", data: []byte("x")}), want: "':'"},
		{name: "entry control character", build: extra(entry{name: "IHE_XDM/a\x00b", data: []byte("x")}), want: "control character"},
		{name: "entries differing by case", build: extra(entry{name: "ihe_xdm/subset01/doc0001.pdf", data: []byte("x")}), want: "two entries named"},
		{name: "URI ../", build: uri("../../README.TXT"), want: `its URI "../../README.TXT" is not accepted`},
		{name: "URI absolute", build: uri("/IHE_XDM/SUBSET01/DOC0001.PDF"), want: "absolute path"},
		{name: "URI backslash", build: uri(`..\..\README.TXT`), want: "backslash"},
		{name: "URI scheme", build: uri("file:///etc/passwd"), want: "':'"},
		{name: "URI dot", build: uri("./DOC0001.PDF"), want: "'.'"},
		{name: "URI query", build: uri("DOC0001.PDF?x=1"), want: "character ?"},
		{name: "URI percent", build: uri("%2e%2e/README.TXT"), want: "character %"},

		// Names that reach nothing, or the wrong thing.
		{name: "unknown URI", build: uri("DOC0009.PDF"), want: `document 1: its URI "DOC0009.PDF" names no file of the archive`},
		{name: "URI missing", build: meta(`name="URI"`, `name="uri"`), want: "the URI slot, which names the document's file, is missing"},
		{name: "URI names the metadata", build: uri("metadata.xml"), want: "names the METADATA.XML itself"},
		{name: "URI names a directory", build: func(t *testing.T) []byte {
			return rezip(t, editMetadata(t, good, uri1, "<rim:Value>SUB</rim:Value>"),
				func(n string, d []byte) (string, []byte) { return n, d }, entry{name: "IHE_XDM/SUBSET01/SUB/"})
		}, want: `"IHE_XDM/SUBSET01/SUB/" is a directory`},
		{name: "two documents, one file", build: meta("<rim:Value>DOC0002.PDF</rim:Value>", uri1), want: "names the same file as another document"},
		{name: "URI parts not numbered", build: meta(uri1, "<rim:Value>DOC</rim:Value><rim:Value>0001.PDF</rim:Value>"), want: "not numbered"},

		// Zip bombs and other costs.
		{name: "too many entries", build: func(*testing.T) []byte { return good }, limits: xdm.Limits{MaxEntries: 4}, want: "more than 4 entries"},
		{name: "too many entries by default", build: func(t *testing.T) []byte {
			var e []entry
			for i := range 1001 {
				e = append(e, entry{name: fmt.Sprintf("junk/%d", i)})
			}
			return extra(e...)(t)
		}, want: "more than 1000 entries"},
		{name: "archive too big", build: func(*testing.T) []byte { return good }, limits: xdm.Limits{MaxArchive: 1000}, want: "more than the 1000 accepted"},
		{name: "document too big", build: bigDoc(2 << 20), limits: xdm.Limits{MaxEntry: 1 << 20},
			want: `entry "IHE_XDM/SUBSET01/DOC0001.PDF" is larger than the 1048576 bytes accepted`},
		{name: "all too big", build: bigDoc(600<<10, 600<<10), limits: xdm.Limits{MaxTotal: 1 << 20},
			want: "the archive's content is larger than"},
		{name: "metadata too big", build: func(*testing.T) []byte { return good }, limits: xdm.Limits{MaxMetadata: 2000},
			want: `entry "IHE_XDM/SUBSET01/METADATA.XML" is larger than the 2000 bytes accepted`},
		{name: "header lies about the size", build: func(t *testing.T) []byte {
			// 16 MiB of zeros deflate to some 16 KiB; the header says 22 bytes.
			bomb := zeros(16 << 20)
			return without(t, good, doc1.Path, entry{hdr: &zip.FileHeader{Name: doc1.Path, Method: zip.Deflate,
				CRC32: crc32.ChecksumIEEE(bomb), UncompressedSize64: uint64(len(doc1.Content))}, data: deflate(t, bomb)})
		}, want: "is corrupt: its size is not the one its header states"},
		{name: "header lies and the limit is lower", build: func(t *testing.T) []byte {
			bomb := zeros(8 << 20)
			return without(t, good, doc1.Path, entry{hdr: &zip.FileHeader{Name: doc1.Path, Method: zip.Deflate,
				UncompressedSize64: 1 << 20}, data: deflate(t, bomb)})
		}, limits: xdm.Limits{MaxEntry: 1 << 20}, want: "is corrupt"},
		{name: "header claims too much", build: func(t *testing.T) []byte {
			return without(t, good, doc1.Path, entry{hdr: &zip.FileHeader{Name: doc1.Path, Method: zip.Store,
				UncompressedSize64: 1 << 40}, data: doc1.Content})
		}, want: "is larger than the 33554432 bytes accepted"},
		{name: "unknown compression", build: func(t *testing.T) []byte {
			return without(t, good, doc1.Path, entry{hdr: &zip.FileHeader{Name: doc1.Path, Method: 12, // bzip2
				UncompressedSize64: uint64(len(doc1.Content))}, data: doc1.Content})
		}, want: "compressed with a method other than deflate"},
		{name: "encrypted", build: func(t *testing.T) []byte {
			return without(t, good, doc1.Path, entry{hdr: &zip.FileHeader{Name: doc1.Path, Method: zip.Store, Flags: 0x1,
				CRC32: crc32.ChecksumIEEE(doc1.Content), UncompressedSize64: uint64(len(doc1.Content))}, data: doc1.Content})
		}, want: "is encrypted"},
		{name: "corrupt", build: func(t *testing.T) []byte {
			return without(t, good, doc1.Path, entry{hdr: &zip.FileHeader{Name: doc1.Path, Method: zip.Store,
				CRC32: 12345, UncompressedSize64: uint64(len(doc1.Content))}, data: doc1.Content})
		}, want: "checksum does not match"},

		// The XML.
		{name: "DOCTYPE", build: meta("<lcm:SubmitObjectsRequest", `<!DOCTYPE lcm:SubmitObjectsRequest [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><lcm:SubmitObjectsRequest`),
			want: "a DOCTYPE or other <!…> declaration, which is not accepted"},
		{name: "billion laughs", build: meta("<lcm:SubmitObjectsRequest", `<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><lcm:SubmitObjectsRequest`),
			want: "DOCTYPE"},
		{name: "undeclared entity", build: meta("<rim:Value>fr-FR</rim:Value>", "<rim:Value>&lang;</rim:Value>"), want: "invalid character entity"},
		{name: "not XML", build: meta("</lcm:SubmitObjectsRequest>", "</lcm:SubmitObjectsRequest"), want: "is not acceptable XML"},
		{name: "too deep", build: func(*testing.T) []byte { return good }, limits: xdm.Limits{MaxDepth: 5}, want: "nested more than 5 deep"},
		{name: "too many elements", build: func(*testing.T) []byte { return good }, limits: xdm.Limits{MaxElements: 50}, want: "more than 50 elements"},
		{name: "ebXML 2.1", build: meta("urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0", "urn:oasis:names:tc:ebxml-regrep:xsd:rs:2.1"),
			want: "not the ebRS 3.0 lcm:SubmitObjectsRequest"},

		// The metadata.
		{name: "no submission set", build: func(t *testing.T) []byte {
			return editMetadata(t, editMetadata(t, good, "a54d6aa5-d40d-43f9-88c5-b4633d873bdd", "d9d542f3-6cc4-48b6-8870-ea235fbc94c2"),
				"96fdda7c-d067-4183-912e-bf5ee74998a8", "00000000-d067-4183-912e-bf5ee74998a8")
		}, want: "no submission set"},
		{name: "no document", build: func(t *testing.T) []byte {
			b := good
			for range 2 {
				b = editMetadata(t, editMetadata(t, b, "<rim:ExtrinsicObject ", "<rim:Other "), "</rim:ExtrinsicObject>", "</rim:Other>")
			}
			return b
		}, want: "no document entry"},
		{name: "invalid INS", build: meta("279035121518989^^^", "279035121518988^^^"), want: "document 1: its patientId is not a valid INS: INS check key"},
		{name: "another patient", build: meta(strings.ReplaceAll(testPatientID, "&", "&amp;"), otherINS), want: "is not the submission set's"},
		{name: "patientId missing", build: meta("58a6f841-87b3-4a3e-92fd-a8ffeff98427", "00000000-87b3-4a3e-92fd-a8ffeff98427"), want: "document 1: its patientId is missing"},
		{name: "uniqueId missing", build: meta("2e82c1f6-a085-4c72-9da3-8640a32e42ab", "00000000-a085-4c72-9da3-8640a32e42ab"), want: "document 1: its uniqueId is missing"},
		{name: "on-demand", build: meta("7edca82f-054d-47f2-a032-9b2a5b5186c1", "34268e47-fdf5-41a6-ba33-82133c465248"), want: "on-demand document entry"},
		{name: "mime type missing", build: meta(`mimeType="application/pdf"`, `mimeType=""`), want: "mimeType attribute is missing"},
		{name: "two hash slots", build: meta(`<rim:Slot name="size">`, `<rim:Slot name="hash"><rim:ValueList><rim:Value>`+doc1.SHA1+`</rim:Value></rim:ValueList></rim:Slot><rim:Slot name="size">`),
			want: "the slot hash appears twice"},
		{name: "two values of a single slot", build: meta("<rim:Value>fr-FR</rim:Value>", "<rim:Value>fr-FR</rim:Value><rim:Value>en-GB</rim:Value>"),
			want: "the slot languageCode has 2 values"},
		{name: "bad date", build: meta("<rim:Value>20240314083000</rim:Value>", "<rim:Value>20241314083000</rim:Value>"), want: "slot creationTime"},
		{name: "unknown visibility label", build: meta(`nodeRepresentation="MASQUE_PS"`, `nodeRepresentation="SECRET"`), want: `unknown visibility label "SECRET"`},
		{name: "two typeCodes", build: meta(`classificationScheme="urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"`, `classificationScheme="urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"`),
			want: "two typeCode classifications"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.build(t)
			_, err := read(b, c.limits)
			mustRefuse(t, err, c.want)
		})
	}
}

// The limits bound what is read, not what is merely present: an unreferenced big entry is
// never decompressed.
func TestLimitsCountWhatIsRead(t *testing.T) {
	good := mustWrite(t, samplePackage(1))
	b := rezip(t, good, func(n string, d []byte) (string, []byte) { return n, d },
		entry{name: "IHE_XDM/SUBSET01/UNUSED.BIN", data: make([]byte, 4<<20)})
	if _, err := read(b, xdm.Limits{MaxEntry: 1 << 20, MaxTotal: 1 << 20}); err != nil {
		t.Fatalf("an entry the metadata do not name was counted: %v", err)
	}
}

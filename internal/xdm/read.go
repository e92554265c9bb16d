package xdm

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"sort"
	"strings"

	"github.com/carnet-sante/carnet/internal/errs"
)

// Read reads an XDM package of size bytes from r: every subset's METADATA.XML and the
// documents it names, whose size and SHA-1 hash are checked against their bytes. Zero fields
// of limits take their defaults. Any refusal is an errs.Invalid saying what is wrong.
func Read(r io.ReaderAt, size int64, limits Limits) (*Package, error) {
	l := limits.orDefaults()
	a, err := openArchive(r, size, l)
	if err != nil {
		return nil, err
	}
	subsets := a.subsets()
	if len(subsets) == 0 {
		return nil, errs.E(errs.Invalid, "the archive holds no %s/<subset>/%s: it is not an IHE XDM package", rootDir, metadataName)
	}
	p := &Package{}
	for i, s := range subsets {
		sub, docs, err := a.readSubset(s, l)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			p.Submission = sub
		} else {
			p.Others = append(p.Others, sub)
		}
		p.Documents = append(p.Documents, docs...)
	}
	return p, nil
}

// archive is an opened zip whose entry names were checked.
type archive struct {
	files  map[string]*zip.File // by folded name, without a trailing slash
	budget int64                // bytes that may still be read, decompressed
}

func openArchive(r io.ReaderAt, size int64, l Limits) (*archive, error) {
	if r == nil || size <= 0 {
		return nil, errs.E(errs.Invalid, "the archive is empty")
	}
	if size > l.MaxArchive {
		return nil, errs.E(errs.Invalid, "the archive is %d bytes, more than the %d accepted", size, l.MaxArchive)
	}
	// archive/zip reads the whole central directory before we can count its entries, and its
	// memory grows with them (some 200 bytes for each 46-byte header). Every entry it can
	// find starts with a central directory signature, so counting the signatures first bounds
	// them, whatever the end record claims.
	n, err := countSignatures(r, size, l.MaxEntries)
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "the archive cannot be read")
	}
	if n > l.MaxEntries {
		return nil, errs.E(errs.Invalid, "the archive holds more than %d entries", l.MaxEntries)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // insecure names: checked below
		return nil, errs.Wrap(errs.Invalid, err, "the archive is not a readable zip file")
	}
	if len(zr.File) > l.MaxEntries {
		return nil, errs.E(errs.Invalid, "the archive holds more than %d entries", l.MaxEntries)
	}
	a := &archive{files: make(map[string]*zip.File, len(zr.File)), budget: l.MaxTotal}
	for _, f := range zr.File {
		if why := entryNameProblem(f.Name); why != "" {
			return nil, errs.E(errs.Invalid, "the archive holds an entry named %q, which is not accepted: %s", clip(f.Name), why)
		}
		key := fold(strings.TrimSuffix(f.Name, "/"))
		if _, dup := a.files[key]; dup {
			// Two entries of one name (or differing by case only): which one a reader takes
			// depends on the reader, so neither is taken.
			return nil, errs.E(errs.Invalid, "the archive holds two entries named %q", clip(f.Name))
		}
		a.files[key] = f
	}
	return a, nil
}

// centralSig starts every central directory header (APPNOTE.TXT §4.3.12).
var centralSig = []byte("PK\x01\x02")

// countSignatures counts the central directory signatures in the archive, stopping once
// past max.
func countSignatures(r io.ReaderAt, size int64, max int) (int, error) {
	const chunk = 64 << 10
	overlap := len(centralSig) - 1
	buf := make([]byte, chunk+overlap)
	n, carry := 0, 0
	for off := int64(0); off < size; off += chunk {
		want := min(int64(chunk), size-off)
		k, err := r.ReadAt(buf[carry:carry+int(want)], off)
		if int64(k) < want {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		window := buf[:carry+k]
		n += bytes.Count(window, centralSig)
		if n > max {
			return n, nil
		}
		// Keep the last bytes: a signature may straddle two chunks. They hold no whole
		// signature (it would have been counted), so none is counted twice.
		carry = min(overlap, len(window))
		copy(buf, window[len(window)-carry:])
	}
	return n, nil
}

// entryNameProblem says what is wrong with a zip entry name, or "". Nothing of a package is
// written to disk here, but callers may, and a name that reaches out of the package has no
// honest use (the "zip slip" family).
func entryNameProblem(name string) string {
	if name == "" {
		return "it is empty"
	}
	if strings.HasPrefix(name, "/") {
		return "it is an absolute path"
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '\\':
			return "it holds a backslash"
		case c == ':':
			return "it holds a drive or scheme separator ':'"
		case c < 0x20 || c == 0x7f:
			return "it holds a control character"
		}
	}
	elems := strings.Split(strings.TrimSuffix(name, "/"), "/")
	for _, e := range elems {
		if e == "" || e == "." || e == ".." {
			return "it holds an empty, '.' or '..' path element"
		}
	}
	return ""
}

// uriProblem says what is wrong with a document's URI, or "". XDM URIs are relative to the
// subset's directory (ITI TF-3 §4.2.3.2.24); anything that could name a file outside it, or
// be read differently by another reader, is refused.
func uriProblem(uri string) string {
	if why := entryNameProblem(uri); why != "" {
		return why
	}
	if strings.HasSuffix(uri, "/") {
		return "it names a directory"
	}
	if i := strings.IndexAny(uri, `?#|%*"<>`); i >= 0 {
		return "it holds the character " + string(uri[i]) + ", which has no place in a file name"
	}
	return ""
}

// fold is the case-insensitive key of an entry name: ASCII letters in upper case (XDM names
// come from FAT and ISO 9660 media, which ignore case).
func fold(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// subset is a directory IHE_XDM/<dir>/ holding a METADATA.XML.
type subset struct {
	dir      string // as written in the archive
	metadata *zip.File
}

// subsets returns the subsets of the package, by directory name.
func (a *archive) subsets() []subset {
	var out []subset
	for key, f := range a.files {
		elems := strings.Split(key, "/")
		if len(elems) != 3 || elems[0] != rootDir || elems[2] != metadataName || strings.HasSuffix(f.Name, "/") {
			continue
		}
		out = append(out, subset{dir: strings.Split(f.Name, "/")[1], metadata: f})
	}
	sort.Slice(out, func(i, j int) bool { return fold(out[i].dir) < fold(out[j].dir) })
	return out
}

// readSubset reads a subset's metadata and documents.
func (a *archive) readSubset(s subset, l Limits) (Submission, []Document, error) {
	where := rootDir + "/" + s.dir + "/" + metadataName
	data, err := a.read(s.metadata, l.MaxMetadata)
	if err != nil {
		return Submission{}, nil, err
	}
	root, err := parseTree(data, l.MaxDepth, l.MaxElements)
	if err != nil {
		return Submission{}, nil, errs.E(errs.Invalid, "%s is not acceptable XML: %s", where, err.Error())
	}
	sub, entries, err := parseMetadata(root, where)
	if err != nil {
		return Submission{}, nil, err
	}
	sub.Subset = s.dir
	dir := rootDir + "/" + s.dir + "/"
	docs := make([]Document, len(entries))
	taken := make(map[string]bool, len(entries))
	for i, e := range entries {
		if why := uriProblem(e.uri); why != "" {
			return Submission{}, nil, errs.E(errs.Invalid, "%s: its URI %q is not accepted: %s", e.label, clip(e.uri), why)
		}
		path := dir + e.uri
		key := fold(path)
		if fold(e.uri) == metadataName {
			return Submission{}, nil, errs.E(errs.Invalid, "%s: its URI names the %s itself", e.label, metadataName)
		}
		if taken[key] {
			return Submission{}, nil, errs.E(errs.Invalid, "%s: its URI %q names the same file as another document", e.label, clip(e.uri))
		}
		taken[key] = true
		f := a.files[key]
		if f == nil {
			return Submission{}, nil, errs.E(errs.Invalid, "%s: its URI %q names no file of the archive", e.label, clip(e.uri))
		}
		content, err := a.read(f, l.MaxEntry)
		if err != nil {
			return Submission{}, nil, err
		}
		d := e.doc
		d.Path, d.Content = path, content
		if d.Size != int64(len(content)) {
			return Submission{}, nil, errs.E(errs.Invalid, "document %s: the size stated (%d) is not the document's (%d bytes)", clip(path), d.Size, len(content))
		}
		sum := sha1.Sum(content)
		if got := hex.EncodeToString(sum[:]); d.SHA1 != got {
			return Submission{}, nil, errs.E(errs.Invalid, "document %s: the hash stated does not match its bytes (their SHA-1 is %s)", clip(path), got)
		}
		docs[i] = d
	}
	return sub, docs, nil
}

// read returns the bytes of an entry, at most max of them and within what the archive may
// still cost. The bytes are counted as they are decompressed: a header may lie.
func (a *archive) read(f *zip.File, max int64) ([]byte, error) {
	name := clip(f.Name)
	if f.Flags&0x1 != 0 {
		return nil, errs.E(errs.Invalid, "entry %q is encrypted, which an XDM package may not be", name)
	}
	if f.FileInfo().IsDir() || strings.HasSuffix(f.Name, "/") {
		return nil, errs.E(errs.Invalid, "entry %q is a directory, not a file", name)
	}
	limit, tooBig := max, errs.E(errs.Invalid, "entry %q is larger than the %d bytes accepted", name, max)
	if a.budget < limit {
		limit = a.budget
		tooBig = errs.E(errs.Invalid, "the archive's content is larger than the %d bytes accepted in all", a.budget)
	}
	if f.UncompressedSize64 > uint64(limit) {
		return nil, tooBig // its header says so; a smaller one is not believed either
	}
	rc, err := f.Open()
	if err != nil {
		if errors.Is(err, zip.ErrAlgorithm) {
			return nil, errs.Wrap(errs.Invalid, err, "entry %q is compressed with a method other than deflate", name)
		}
		return nil, errs.Wrap(errs.Invalid, err, "entry %q cannot be read", name)
	}
	defer rc.Close()
	// Start from what the header states, within bounds; the buffer grows if it lied.
	var buf bytes.Buffer
	buf.Grow(int(min(f.UncompressedSize64, uint64(limit), 1<<20)) + bytes.MinRead)
	_, err = buf.ReadFrom(io.LimitReader(rc, limit+1))
	if int64(buf.Len()) > limit {
		return nil, tooBig
	}
	switch {
	case err == nil:
	case errors.Is(err, zip.ErrChecksum):
		return nil, errs.Wrap(errs.Invalid, err, "entry %q is corrupt: its checksum does not match", name)
	case errors.Is(err, zip.ErrFormat), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, errs.Wrap(errs.Invalid, err, "entry %q is corrupt: its size is not the one its header states", name)
	default:
		return nil, errs.Wrap(errs.Invalid, err, "entry %q cannot be read", name)
	}
	a.budget -= int64(buf.Len())
	data := buf.Bytes()
	if cap(data)-len(data) > len(data)/4+4096 {
		data = bytes.Clone(data) // do not hold on to the slack of a buffer grown by doubling
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

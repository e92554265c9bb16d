package terminology

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// record is one data line of a TSV file, with its line number for error messages.
type record struct {
	line   int
	fields []string
}

// readTSV reads one of our data files (format in data/README.md): UTF-8, '#' comment lines and
// blank lines skipped, a header that must be exactly columns, then records with exactly as many
// tab-separated fields. There is no quoting: the generator refuses values holding a tab or a line
// break. Errors name the file and the line, because a bad line is a bug to fix in the data.
func readTSV(name string, r io.Reader, columns []string) ([]record, error) {
	sc := bufio.NewScanner(r)
	var (
		recs   []record
		header bool
		n      int
	)
	for sc.Scan() {
		n++
		// Tolerate a CRLF checkout of the files (git autocrlf on Windows).
		line := strings.TrimSuffix(sc.Text(), "\r")
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("%s:%d: not UTF-8", name, n)
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if !header {
			if strings.Join(fields, "\t") != strings.Join(columns, "\t") {
				return nil, fmt.Errorf("%s:%d: header %q, want %q", name, n, fields, columns)
			}
			header = true
			continue
		}
		if len(fields) != len(columns) {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d (%s)", name, n, len(fields), len(columns), strings.Join(columns, ", "))
		}
		recs = append(recs, record{line: n, fields: fields})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, n, err)
	}
	if !header {
		return nil, fmt.Errorf("%s: no header line", name)
	}
	return recs, nil
}

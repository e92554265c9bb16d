package config

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

const maxFileProblems = 20

// entry is one "key = value" line of a configuration file.
type entry struct {
	key, value string
	line       int
}

// parseFile reads a configuration file: "key = value" lines, blank lines, lines whose first
// non-blank character is #. A value wholly enclosed in double quotes is taken verbatim between
// them, with no escapes, so that it can keep outer spaces or start with #; there are no
// trailing comments, so a password may hold a # without quoting. known tells which keys exist;
// each problem names its line.
func parseFile(data []byte, known func(string) bool) ([]entry, []string) {
	var (
		entries []entry
		probs   []string
		seen    = map[string]int{}
	)
	text := strings.TrimPrefix(string(data), "\uFEFF") // editors on Windows write a BOM
	for i, line := range strings.Split(text, "\n") {
		if len(probs) >= maxFileProblems {
			// A binary file given by mistake would otherwise yield an error of a million lines.
			probs = append(probs, fmt.Sprintf("line %d: too many problems, stopping here", i+1))
			break
		}
		n := i + 1
		bad := func(format string, args ...any) {
			probs = append(probs, fmt.Sprintf("line %d: ", n)+fmt.Sprintf(format, args...))
		}
		if !utf8.ValidString(line) {
			bad("not valid UTF-8")
			continue
		}
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || line[0] == '#' {
			continue
		}
		eq := strings.IndexByte(line, '=')
		if eq < 0 {
			bad("expected key = value")
			continue
		}
		k, v := strings.TrimSpace(line[:eq]), strings.TrimSpace(line[eq+1:])
		if k == "" {
			bad("no key before =")
			continue
		}
		if !known(k) {
			bad("unknown key %q", k)
			continue
		}
		if strings.HasPrefix(v, `"`) {
			if len(v) < 2 || !strings.HasSuffix(v, `"`) {
				bad("the value of %s opens a double quote but does not end with one", k)
				continue
			}
			v = v[1 : len(v)-1]
		}
		if prev, dup := seen[k]; dup {
			bad("%s is already set on line %d", k, prev)
			continue
		}
		seen[k] = n
		entries = append(entries, entry{key: k, value: v, line: n})
	}
	return entries, probs
}

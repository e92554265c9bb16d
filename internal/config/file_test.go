package config

import (
	"slices"
	"strings"
	"testing"
)

var fileKeyNames = fileKeys()

func knownKey(k string) bool { _, ok := fileKeyNames[k]; return ok }

func TestParseFile(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []entry
		probs []string
	}{
		{"empty", "", nil, nil},
		{"comments and blanks", "# carnet\n\n   # indented comment\n\t\n", nil, nil},
		{"plain", "data_dir = /srv/carnet\nhttp_addr=:8080\n", []entry{{"data_dir", "/srv/carnet", 1}, {"http_addr", ":8080", 2}}, nil},
		{"spaces kept inside", "notify_from =  carnet <a@b.example>  ", []entry{{"notify_from", "carnet <a@b.example>", 1}}, nil},
		{"quotes", `domain = "example.fr"` + "\n" + `notify_smtp_password = " # not a comment "`,
			[]entry{{"domain", "example.fr", 1}, {"notify_smtp_password", " # not a comment ", 2}}, nil},
		{"quote inside kept verbatim", `notify_smtp_password = "a"b"`, []entry{{"notify_smtp_password", `a"b`, 1}}, nil},
		{"hash in unquoted value", "notify_smtp_password = pa#ss", []entry{{"notify_smtp_password", "pa#ss", 1}}, nil},
		{"equals in value", "database_url = postgres://db/c?sslmode=require", []entry{{"database_url", "postgres://db/c?sslmode=require", 1}}, nil},
		{"empty quotes", `public_url = ""`, []entry{{"public_url", "", 1}}, nil},
		{"CRLF and BOM", "\uFEFFdomain = a.example\r\nlog_level = debug\r\n", []entry{{"domain", "a.example", 1}, {"log_level", "debug", 2}}, nil},
		{"_file key", "master_key_file = /run/secrets/k", []entry{{"master_key_file", "/run/secrets/k", 1}}, nil},
		{"unknown key", "\n\nport = 8080", nil, []string{`line 3: unknown key "port"`}},
		{"key of a setting without a file form", "domain_file = x", nil, []string{`line 1: unknown key "domain_file"`}},
		{"the file cannot name a file", "config = other.conf", nil, []string{`line 1: unknown key "config"`}},
		{"capitals", "DATA_DIR = x", nil, []string{`line 1: unknown key "DATA_DIR"`}},
		{"no equals", "data_dir /srv", nil, []string{"line 1: expected key = value"}},
		{"no key", " = x", nil, []string{"line 1: no key before ="}},
		{"open quote", `domain = "example.fr`, nil, []string{"line 1: the value of domain opens a double quote"}},
		{"lone quote", `domain = "`, nil, []string{"line 1: the value of domain opens a double quote"}},
		{"duplicate", "domain = a.example\n# again\ndomain = b.example", []entry{{"domain", "a.example", 1}},
			[]string{"line 3: domain is already set on line 1"}},
		{"bad UTF-8", "domain = \xff", nil, []string{"line 1: not valid UTF-8"}},
		{"several problems", "a = 1\nb\n", nil, []string{`line 1: unknown key "a"`, "line 2: expected key = value"}},
		{"binary", strings.Repeat("\x00\n", 100), nil, append(slices.Repeat([]string{"line "}, maxFileProblems),
			"line 21: too many problems, stopping here")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, probs := parseFile([]byte(tt.in), knownKey)
			if len(got) != len(tt.want) {
				t.Fatalf("entries = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("entry %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			if len(probs) != len(tt.probs) {
				t.Fatalf("problems = %q, want %q", probs, tt.probs)
			}
			for i := range probs {
				if !strings.HasPrefix(probs[i], tt.probs[i]) {
					t.Errorf("problem %d = %q, want %q…", i, probs[i], tt.probs[i])
				}
			}
		})
	}
}

// FuzzParseFile checks that the parser never panics, reports problems with a line number, and
// that an accepted file, written back with every value quoted, reads the same.
func FuzzParseFile(f *testing.F) {
	for _, s := range []string{
		"",
		"# comment\ndata_dir = /srv/carnet\n",
		"domain = \"example.fr\"\r\nnotify_smtp_password = \" a\"b #c \"\n",
		"\uFEFFhttp_addr=:0\nlog_level = debug\nmaster_key_file=/k\n",
		"jobs_workers = 10\njobs_workers = 11\n",
		"x\n=\n\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, probs := parseFile(data, knownKey)
		for _, p := range probs {
			if !strings.HasPrefix(p, "line ") {
				t.Fatalf("problem without a line: %q", p)
			}
		}
		if len(probs) > 0 {
			return
		}
		var b strings.Builder
		for _, e := range entries {
			b.WriteString(e.key + " = \"" + e.value + "\"\n")
		}
		again, probs := parseFile([]byte(b.String()), knownKey)
		if len(probs) > 0 {
			t.Fatalf("written back, the file is refused: %q\n%s", probs, b.String())
		}
		if len(again) != len(entries) {
			t.Fatalf("%d entries, %d after writing back", len(entries), len(again))
		}
		for i := range again {
			if again[i].key != entries[i].key || again[i].value != entries[i].value {
				t.Fatalf("entry %d: %+v then %+v", i, entries[i], again[i])
			}
		}
	})
}

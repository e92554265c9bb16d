// Package shareddata finds the national reference files (value sets, example clinical
// documents, the mail allowlist) that tests read from ../shared/data: the repository must not
// copy them (their README). Tests only import this package.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the path of elem under shared/data, found by walking up from the working
// directory. When there is none the test is skipped with a message saying where it looked;
// .ci/run fails a PostgreSQL run that skips, so CI never passes without the data.
func Dir(tb testing.TB, elem ...string) string {
	tb.Helper()
	start, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for dir := start; ; {
		candidate := filepath.Join(dir, "shared", "data")
		if fi, err := os.Stat(candidate); err == nil && fi.IsDir() {
			return filepath.Join(append([]string{candidate}, elem...)...)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skipf("reference data not found: no shared/data in %s or any folder above it (expected ../shared/data from the repository root)", start)
		}
		dir = parent
	}
}

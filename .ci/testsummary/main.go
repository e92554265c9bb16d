// Command testsummary reads `go test -json` on stdin and prints a summary: packages, tests
// passed, failed and skipped, with the name and reason of every skip and failure. With
// -fail-on-skip it exits 1 when any test skipped.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	failOnSkip := flag.Bool("fail-on-skip", false, "exit 1 if any test skipped")
	flag.Parse()
	output := map[string]*strings.Builder{}
	var passed, failed, skipped []string
	packages := map[string]bool{}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Println(sc.Text()) // build errors come as plain text
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			if output[key] == nil {
				output[key] = &strings.Builder{}
			}
			output[key].WriteString(e.Output)
		case "pass":
			if e.Test != "" {
				passed = append(passed, key)
			} else {
				packages[e.Package] = true
			}
		case "fail":
			if e.Test != "" || output[key] != nil {
				failed = append(failed, key)
			}
		case "skip":
			if e.Test != "" {
				skipped = append(skipped, key)
			}
		}
	}
	sort.Strings(failed)
	sort.Strings(skipped)
	for _, k := range failed {
		fmt.Printf("FAIL %s\n", k)
		if b := output[k]; b != nil {
			fmt.Print(indent(b.String()))
		}
	}
	for _, k := range skipped {
		fmt.Printf("SKIP %s\n", k)
		if b := output[k]; b != nil {
			fmt.Print(indent(b.String()))
		}
	}
	fmt.Printf("%d packages passed; tests: %d passed, %d failed, %d skipped\n", len(packages), len(passed), len(failed), len(skipped))
	if len(failed) > 0 || (*failOnSkip && len(skipped) > 0) {
		os.Exit(1)
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString("    " + line)
		}
	}
	return b.String()
}

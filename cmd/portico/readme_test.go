package main

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEDocumentsEveryFlag keeps the README's flag table honest: every
// flag that --help lists must have a row there.
func TestREADMEDocumentsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// --help prints to stderr; capture it.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	_, perr := parseFlags([]string{"--help"})
	os.Stderr = stderr
	w.Close()
	help, _ := io.ReadAll(r)
	if perr != errHelp {
		t.Fatalf("parseFlags(--help) = %v", perr)
	}
	flags := regexp.MustCompile(`(?m)^  --([a-z0-9-]+)$`).FindAllStringSubmatch(string(help), -1)
	if len(flags) < 20 {
		t.Fatalf("found only %d flags in --help:\n%s", len(flags), help)
	}
	for _, f := range flags {
		if !strings.Contains(string(readme), "| `--"+f[1]+"` |") {
			t.Errorf("flag --%s has no row in README.md's flag table", f[1])
		}
	}
}

package controller

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode"
)

var updateGuide = flag.Bool("update", false, "rewrite the annotation table of docs/migrating-from-ingress-nginx.md")

const (
	guidePath   = "../docs/migrating-from-ingress-nginx.md"
	annDocPath  = "../docs/annotations.md"
	tableBegin  = "<!-- BEGIN ANNOTATION TABLE -->\n"
	tableEnd    = "<!-- END ANNOTATION TABLE -->\n"
	annDocLinks = "annotations.md"
)

// The migration guide's table lists every ingress-nginx annotation with
// what Portico does, as the catalogue says; every one Portico honours is
// documented in docs/annotations.md, and every difference is a supported
// annotation's.
func TestMigrationGuideListsEveryAnnotation(t *testing.T) {
	doc, err := os.ReadFile(annDocPath)
	if err != nil {
		t.Fatal(err)
	}
	sections := annotationSections(string(doc))
	var b strings.Builder
	b.WriteString("| Annotation | Portico | Notes |\n|---|---|---|\n")
	for _, s := range NginxAnnotations() {
		switch {
		case s.Supported:
			sec, ok := sections[s.Name]
			if !ok {
				t.Errorf("%s is supported but docs/annotations.md does not document it (no line with `%s`)", s.Name, s.Name)
			}
			link := fmt.Sprintf("[yes](%s%s)", annDocLinks, sec)
			if d := nginxDiffers[s.Name]; d != "" {
				fmt.Fprintf(&b, "| `%s` | %s, differs | %s |\n", s.Name, link, d)
			} else {
				fmt.Fprintf(&b, "| `%s` | %s | |\n", s.Name, link)
			}
		default:
			fmt.Fprintf(&b, "| `%s` | no | %s |\n", s.Name, s.Note)
		}
	}
	for name := range nginxDiffers {
		if !NginxAnnotation(name).Supported {
			t.Errorf("nginxDiffers has %s, which Portico does not honour", name)
		}
	}
	guide, err := os.ReadFile(guidePath)
	if err != nil {
		t.Fatal(err)
	}
	head, rest, ok1 := strings.Cut(string(guide), tableBegin)
	_, tail, ok2 := strings.Cut(rest, tableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("%s: no %q ... %q markers", guidePath, tableBegin, tableEnd)
	}
	want := head + tableBegin + b.String() + tableEnd + tail
	if *updateGuide {
		if err := os.WriteFile(guidePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if string(guide) != want {
		t.Errorf("%s: the annotation table is out of date; run go test ./controller -run TestMigrationGuide -update", guidePath)
	}
}

// annotationSections maps each annotation name written in backquotes in
// docs/annotations.md (bare or with the portico.dev/ prefix) to the anchor
// of the first section that mentions it ("" for the top of the page).
func annotationSections(doc string) map[string]string {
	out := map[string]string{}
	anchor := ""
	for line := range strings.SplitSeq(doc, "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			anchor = "#" + githubAnchor(h)
			continue
		}
		parts := strings.Split(line, "`")
		for i := 1; i < len(parts); i += 2 { // inside backquotes
			name := strings.TrimPrefix(strings.TrimPrefix(parts[i], porticoPrefix), nginxPrefix)
			if _, known := nginxAnnotations[name]; known {
				if _, seen := out[name]; !seen {
					out[name] = anchor
				}
			}
		}
	}
	return out
}

// githubAnchor is the fragment GitHub gives a heading: lower case, spaces
// to dashes, other punctuation dropped.
func githubAnchor(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

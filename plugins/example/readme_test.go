package example

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// snippet is a code block of sdk/README.md followed by a line
// `<!-- from FILE -->`, FILE a path from the repository's root.
var snippet = regexp.MustCompile("(?s)```go\n(.*?)```\n<!-- from (\\S+) -->")

// The Go snippets sdk/README.md takes from this plugin stand in its files
// as written (indentation aside), so they compile and stay in step.
func TestReadmeSnippetsAreTheExamplesCode(t *testing.T) {
	readme, err := os.ReadFile("../../sdk/README.md")
	if err != nil {
		t.Fatal(err)
	}
	found := snippet.FindAllStringSubmatch(string(readme), -1)
	if len(found) < 8 {
		t.Fatalf("%d snippets marked `<!-- from FILE -->` in sdk/README.md; want the walk through plugins/example", len(found))
	}
	for _, m := range found {
		code, file := m[1], m[2]
		src, err := os.ReadFile(filepath.Join("../..", file))
		if err != nil {
			t.Errorf("snippet from %s: %v", file, err)
			continue
		}
		if !containsLines(trimmed(string(src)), trimmed(code)) {
			t.Errorf("sdk/README.md shows code that is not in %s:\n%s", file, code)
		}
	}
}

func trimmed(s string) []string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return lines
}

// containsLines reports whether want is a run of consecutive lines of have.
func containsLines(have, want []string) bool {
	for i := range have {
		if i+len(want) <= len(have) && slices.Equal(have[i:i+len(want)], want) {
			return true
		}
	}
	return false
}

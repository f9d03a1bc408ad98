package subject

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCutKeepsCharactersWhole(t *testing.T) {
	s := strings.Repeat("日本", 100)
	for n := 0; n < 40; n++ {
		if got := Cut(s, n); !utf8.ValidString(got) || len(got) > max(n, len("…")) {
			t.Fatalf("Cut(%d) = %q (%d bytes)", n, got, len(got))
		}
		if got := CutMiddle(s, n); !utf8.ValidString(got) || len(got) > max(n, len("…")) {
			t.Fatalf("CutMiddle(%d) = %q (%d bytes)", n, got, len(got))
		}
	}
	if got := CutMiddle("problem: "+strings.Repeat("x", 10000)+"; do this", 100); !strings.HasPrefix(got, "problem: ") || !strings.HasSuffix(got, "; do this") {
		t.Errorf("CutMiddle lost an end: %q", got)
	}
}

// A 10 MB narration is kept to its first 64 KiB with a note saying so; a
// snapshot of 50,000 nodes to 2,000, noted; ids cut alike in checks and
// snapshots still match.
func TestLimits(t *testing.T) {
	long := strings.Repeat("word ", 2<<20)
	id := strings.Repeat("n", 1000)
	c := LimitChapter(Chapter{Title: "t", Narration: long, Expectations: []Expectation{{Check: Check{Kind: CheckNode, Target: id}}}})
	if len(c.Narration) > MaxNarration+200 || !strings.Contains(c.Narration, "demohost shows the first 64 KiB of this narration, of 10240 KiB") {
		t.Errorf("narration kept %d bytes, ending %q", len(c.Narration), c.Narration[len(c.Narration)-80:])
	}
	var nodes []Node
	for range 50000 {
		nodes = append(nodes, Node{ID: id, State: Up})
	}
	h := LimitHealth(Health{Nodes: nodes})
	if len(h.Nodes) != MaxNodes || !strings.Contains(h.Note, "the plugin sent 50000 nodes") {
		t.Errorf("kept %d nodes, note %q", len(h.Nodes), h.Note)
	}
	if h.Nodes[0].ID != c.Expectations[0].Check.Target || len(h.Nodes[0].ID) > MaxName {
		t.Errorf("a cut id %q does not match the cut check target %q", h.Nodes[0].ID, c.Expectations[0].Check.Target)
	}
}

package pluginhost

import (
	"context"
	"strings"
	"testing"

	"github.com/demohost/demohost/host/subject"
)

// A plugin sending a 10 MB narration: the host keeps its first 64 KiB and
// says how much it left out, at the edge, before any view or journal sees
// it (a view wrapping 10 MB every frame froze the terminal UI).
func TestHugeNarrationIsCutAtTheEdge(t *testing.T) {
	p, err := Launch(Config{Path: hostilePlugin})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	if err := p.Subject.Configure(ctx, map[string]string{"mode": "text", "echo": "", "narration_bytes": "10000000"}); err != nil {
		t.Fatal(err)
	}
	chapters, err := p.Subject.Chapters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := chapters[0].Narration
	if len(n) > subject.MaxNarration+200 || !strings.Contains(n, "demohost shows the first 64 KiB of this narration, of 9766 KiB") {
		t.Errorf("the narration kept is %d bytes, ending %q", len(n), n[max(0, len(n)-100):])
	}
	if !strings.HasPrefix(n, "*bold* narration") {
		t.Errorf("the narration's start was lost: %q", n[:40])
	}
}

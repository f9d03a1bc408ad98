package example

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/sdktest"
)

// The whole demo, walked headless by the host's runner through the wire,
// five times faster: every chapter passes, and the one fault is reverted
// by the recovery chapter with the subject's own line.
func TestDemoPassesHeadless(t *testing.T) {
	h := sdktest.Start(t, New(), sdktest.Scale(0.2))
	j, err := h.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if j.Result != journal.Passed {
		t.Fatalf("result %s, want passed:\n%s", j.Result, sdktest.Summary(j))
	}
	var titles []string
	for _, c := range j.Chapters {
		titles = append(titles, c.Title+" "+c.Status)
	}
	if want := "A healthy cluster passed|Warm-up traffic passed|Kill a node passed|Recovery passed|Done passed"; strings.Join(titles, "|") != want {
		t.Errorf("chapters %q, want %q", titles, want)
	}
	if len(j.Chaos) != 1 {
		t.Fatalf("%d faults injected, want 1: %+v", len(j.Chaos), j.Chaos)
	}
	c := j.Chaos[0]
	if c.Type != NodeKill || c.RevertedBy != "chapter" || c.RevertDetail != "started "+c.Target+" again" {
		t.Errorf("fault %s on %s reverted by %q with %q; want NODE_KILL reverted by the recovery chapter, saying it started the node again", c.Type, c.Target, c.RevertedBy, c.RevertDetail)
	}
}

// A node_down raised later than the kill chapter waits for fails that
// chapter, and says which expectation was not met; the run goes on and
// still reverts the fault.
func TestSlowDetectionFailsTheKillChapter(t *testing.T) {
	h := sdktest.Start(t, New(), sdktest.Scale(0.2), sdktest.Set("detect_after", "5s"))
	j, err := h.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if j.Result != journal.Failed {
		t.Fatalf("result %s, want failed", j.Result)
	}
	kill := j.Chapters[slices.IndexFunc(j.Chapters, func(c journal.Chapter) bool { return c.Title == "Kill a node" })]
	if kill.Status != journal.Failed {
		t.Fatalf("kill chapter %s, want failed", kill.Status)
	}
	if s := sdktest.Summary(j); !strings.Contains(s, "violation node_down present") {
		t.Errorf("summary does not name the unmet node_down expectation:\n%s", s)
	}
	if len(j.Chaos) != 1 || j.Chaos[0].RevertedAt == nil {
		t.Errorf("the fault was not reverted: %+v", j.Chaos)
	}
}

// Each declared fault kind, injected through the wire with its defaults:
// the node goes DOWN, node_down follows, the revert says what it did and
// the cluster is whole again.
func TestEachFaultKindInjectsAndReverts(t *testing.T) {
	h := sdktest.Start(t, New(), sdktest.Set("detect_after", "50ms"))
	faults := h.Faults()
	if len(faults) != 1 || faults[0].Kind != NodeKill || faults[0].Params["count"] != "1" {
		t.Fatalf("faults %+v, want NODE_KILL with count=1", faults)
	}
	for _, f := range faults {
		inj := h.Inject(t, f)
		h.AwaitHealth(t, "node_down on "+inj.Target, 5*time.Second, func(s sdk.HealthSnapshot) bool {
			for _, v := range s.Violations {
				if v.Invariant == NodeDown && v.Target == inj.Target {
					return true
				}
			}
			return false
		})
		if line := h.Revert(t, inj); line != "started "+inj.Target+" again" {
			t.Errorf("revert line %q", line)
		}
		h.AwaitHealth(t, "every node UP, no violation", 5*time.Second, func(s sdk.HealthSnapshot) bool {
			for _, n := range s.Nodes {
				if n.State != sdk.Up {
					return false
				}
			}
			return len(s.Nodes) == 3 && len(s.Violations) == 0
		})
	}
}

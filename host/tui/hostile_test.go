package tui

import (
	"strings"
	"testing"

	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/subject"
)

// evil is what a hostile plugin puts in every string: a window title, a
// clear-screen, a colour, a bell, a backspace, an 8-bit CSI, a
// right-to-left override and a line break.
const evil = " \x1b]0;PWNED\x07\x1b[2J\x1b[H\x1b[31mred\x1b[0m\x07\b\u009b2J\u202eevil\n second line"

// Plugin text reaches the screen as text: no escape sequence, control
// character or override is drawn, nor the body of one ("[2J").
func TestRenderDrawsNoEscapeSequence(t *testing.T) {
	snap := demoSnapshot()
	snap.Subject += evil
	snap.Current.Title += evil
	snap.Current.Narration += evil
	snap.Current.KeyHint += evil
	snap.Current.Status[0].Message += evil
	snap.Current.Expectations[0].Description += evil
	snap.Current.Error = "the action failed" + evil
	snap.Chaos[0].Label += evil
	snap.Chaos[0].Target += evil
	h := *snap.Health
	h.Nodes = append([]subject.Node(nil), h.Nodes...)
	h.Nodes[1].Detail += evil
	h.Nodes[1].Role += evil
	h.Violations = []subject.Violation{{Invariant: "node_down", Target: "node-2" + evil, Message: "message" + evil}}
	h.Error = "health" + evil
	snap.Health = &h
	snap.Events = append(snap.Events, runner.Event{At: t0, Kind: "error", Message: "event" + evil})
	snap.PluginError = "crashed" + evil
	for _, w := range []struct{ w, h int }{{200, 60}, {80, 24}} {
		s := draw(t, snap, newView(theme{}), w.w, w.h)
		screen := strings.Join(rows(s), "\n")
		for _, bad := range []string{"\x1b", "\a", "\b", "\u009b", "\u202e", "PWNED", "[2J", "[H", "[31m", "[0m"} {
			if strings.Contains(screen, bad) {
				t.Errorf("%dx%d: the screen shows %q:\n%s", w.w, w.h, bad, screen)
			}
		}
		if w.w == 200 {
			mustShow(t, s, "Kill a node redevil", "event redevil", "⚠ health: health redevil")
		}
	}
}

// What the host left out of an over-large snapshot is said in the cluster
// panel.
func TestRenderShowsWhatTheHostLeftOut(t *testing.T) {
	snap := demoSnapshot()
	h := subject.LimitHealth(subject.Health{TakenAt: t0, Nodes: bigCluster(3000)})
	snap.Health = &h
	mustShow(t, draw(t, snap, newView(theme{}), 160, 40), "⚠ the plugin sent 3000 nodes: demohost keeps the first 2000")
}

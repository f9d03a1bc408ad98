package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/host/subject"
)

// hugeNarration is a 10 MB narration as the terminal UI gets it: cut by
// the host at the plugin's edge (subject.LimitChapter, as pluginhost does).
func hugeNarration() string {
	return subject.LimitChapter(subject.Chapter{Narration: strings.Repeat("*lots* of [red]narration[/] ", 10<<20/28)}).Narration
}

// BenchmarkRenderHugeNarration draws frames (render on a 120x40
// SimulationScreen) of a chapter whose plugin sent a 10 MB narration, with
// a new health sample each frame (the narration unchanged, as while a
// chapter runs), and reports the mean time of one frame (ms/frame) of
// framesPerOp per iteration. It was the case that froze the header (the
// narration parsed and wrapped every frame).
//
// Target: ≤ 2 ms per frame, as BenchmarkRenderFrame.
func BenchmarkRenderHugeNarration(b *testing.B) {
	snap := demoSnapshot()
	snap.Current.Narration = hugeNarration()
	v := newView(theme{})
	s := newScreen(b, 120, 40)
	for b.Loop() {
		for i := range framesPerOp {
			h := *snap.Health
			h.TakenAt = t0.Add(time.Duration(i) * time.Second)
			snap.Health = &h
			v.observe(&snap)
			render(s, &snap, v, t0)
		}
	}
	reportFrames(b)
}

// The narration is wrapped once per width, not once per frame: frames of
// one chapter share its lines until the width changes.
func TestNarrationIsWrappedOncePerWidth(t *testing.T) {
	snap := demoSnapshot()
	snap.Current.Narration = hugeNarration()
	v := newView(theme{})
	s := newScreen(t, 120, 40)
	render(s, &snap, v, t0)
	first := v.narration.lines
	render(s, &snap, v, t0.Add(time.Second))
	if len(first) == 0 || &v.narration.lines[0] != &first[0] {
		t.Error("the narration was wrapped again for a frame of the same width")
	}
	s.SetSize(100, 40)
	render(s, &snap, v, t0)
	if v.narration.width == 120-60-2 || &v.narration.lines[0] == &first[0] {
		t.Error("the narration was not wrapped again for a new width")
	}
}

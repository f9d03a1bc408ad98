package replay

import (
	"testing"
	"time"

	"github.com/demohost/demohost/host/runner"
)

var t0 = time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)

// fakeClock is a wall clock the test moves.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time       { return c.now }
func (c *fakeClock) pass(d time.Duration) { c.now = c.now.Add(d) }
func at(s float64) time.Time              { return t0.Add(time.Duration(s * float64(time.Second))) }
func frame(s float64, index int) runner.RecordedFrame {
	return runner.RecordedFrame{At: at(s), Snapshot: runner.Snapshot{Index: index}}
}

// A run recorded over 30 s: setting up, chapter 1 from 1 s (a health
// sample at 5 s), chapter 2 from 10 s, chapter 3 from 20 s, done at 30 s.
func recording() *runner.Recording {
	return &runner.Recording{Frames: []runner.RecordedFrame{
		frame(0, -1), frame(1, 0), frame(5, 0), frame(10, 1), frame(20, 2), frame(30, 2),
	}}
}

func newPlayer(t *testing.T, speed float64) (*Player, *fakeClock) {
	t.Helper()
	c := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	p, err := New(recording(), speed, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return p, c
}

func wantAt(t *testing.T, p *Player, s float64, index int) {
	t.Helper()
	if got := p.Now(); !got.Equal(at(s)) {
		t.Errorf("shows %v, want %gs", got.Sub(t0), s)
	}
	if got := recording().Frames[p.Frame(p.Now())].Snapshot.Index; got != index {
		t.Errorf("at %v the chapter shown is %d, want %d", p.Now().Sub(t0), got, index)
	}
}

func TestSpeedScalesTheWallClock(t *testing.T) {
	p, c := newPlayer(t, 1)
	c.pass(3 * time.Second)
	wantAt(t, p, 3, 0)
	p.Faster()
	p.Faster() // 4×
	c.pass(time.Second)
	wantAt(t, p, 7, 0)
	if got := p.WallUntil(at(10)); got != 750*time.Millisecond {
		t.Errorf("wall time to 10 s at 4× = %v, want 750ms", got)
	}
	p.Faster()
	p.Faster() // 8×, the fastest
	if p.Speed() != 8 || SpeedLabel(p.Speed()) != "8×" {
		t.Errorf("speed %g (%s), want 8×", p.Speed(), SpeedLabel(p.Speed()))
	}
	for range 6 {
		p.Slower()
	}
	if p.Speed() != 0.5 || SpeedLabel(p.Speed()) != "½×" {
		t.Errorf("speed %g (%s), want ½×, the slowest", p.Speed(), SpeedLabel(p.Speed()))
	}
	c.pass(2 * time.Second)
	wantAt(t, p, 8, 0)
}

func TestPauseHoldsThePosition(t *testing.T) {
	p, c := newPlayer(t, 2)
	c.pass(time.Second)
	p.TogglePause()
	c.pass(time.Hour)
	wantAt(t, p, 2, 0)
	if !p.Paused() || p.WallUntil(at(10)) >= 0 {
		t.Error("paused, yet the position would move")
	}
	p.TogglePause()
	c.pass(500 * time.Millisecond)
	wantAt(t, p, 3, 0)
}

func TestPlaybackStopsAtTheEndAndSpaceStartsAgain(t *testing.T) {
	p, c := newPlayer(t, 8)
	c.pass(time.Hour)
	wantAt(t, p, 30, 2)
	if !p.Ended() {
		t.Error("not ended past the last frame")
	}
	p.TogglePause()
	if p.Paused() || p.Ended() {
		t.Errorf("after space at the end: paused %v, ended %v; want playing again", p.Paused(), p.Ended())
	}
	wantAt(t, p, 0, -1)
}

func TestSeekMovesByChapter(t *testing.T) {
	p, c := newPlayer(t, 1)
	c.pass(3 * time.Second) // in chapter 1
	p.NextChapter()
	wantAt(t, p, 10, 1)
	p.NextChapter()
	wantAt(t, p, 20, 2)
	p.NextChapter() // none follows: the end
	wantAt(t, p, 30, 2)
	p.PrevChapter()
	wantAt(t, p, 10, 1)
	p.PrevChapter()
	wantAt(t, p, 1, 0)
	p.PrevChapter() // before the first chapter: the start
	wantAt(t, p, 0, -1)
	// Seeking while paused stays paused, at the chapter's start.
	p.TogglePause()
	p.NextChapter()
	c.pass(time.Minute)
	wantAt(t, p, 1, 0)
	if !p.Paused() {
		t.Error("seeking resumed a paused playback")
	}
}

func TestSpeedMustBeOneOfTheSteps(t *testing.T) {
	if _, err := New(recording(), 3, time.Now); err == nil || err.Error() != "speed 3: want 0.5, 1, 2, 4 or 8" {
		t.Errorf("speed 3: %v", err)
	}
}

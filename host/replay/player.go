// Package replay plays a recorded run back: which of its Snapshots is
// shown at each moment, at a speed, paused, or moved to a chapter. It
// draws nothing; the terminal UI and the asciicast writer show what it
// says (host/tui).
package replay

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/demohost/demohost/host/runner"
)

// Speeds are the playback speeds, slowest first; Faster and Slower step
// through them.
var Speeds = []float64{0.5, 1, 2, 4, 8}

// SpeedLabel is how a speed is shown: ½×, 1×, 2×.
func SpeedLabel(speed float64) string {
	if speed == 0.5 {
		return "½×"
	}
	return strconv.FormatFloat(speed, 'f', -1, 64) + "×"
}

// CheckSpeed fails for a speed not in Speeds, saying which there are.
func CheckSpeed(speed float64) error {
	for _, s := range Speeds {
		if s == speed {
			return nil
		}
	}
	return fmt.Errorf("speed %g: want 0.5, 1, 2, 4 or 8", speed)
}

// Player is a recording being played back against a wall clock. Its
// position is a recorded instant: it moves at speed × the wall clock
// while playing, stays put while paused, and stops at the recording's end.
type Player struct {
	rec   *runner.Recording
	clock func() time.Time
	speed int // in Speeds
	// pos is the recorded instant shown when the wall clock read wall.
	pos, wall time.Time
	paused    bool
	// marks are the frames where the chapter shown changes.
	marks []int
}

// New plays rec from its first frame at speed (one of Speeds); clock is
// the wall clock (time.Now).
func New(rec *runner.Recording, speed float64, clock func() time.Time) (*Player, error) {
	if err := CheckSpeed(speed); err != nil {
		return nil, err
	}
	p := &Player{rec: rec, clock: clock}
	for i, s := range Speeds {
		if s == speed {
			p.speed = i
		}
	}
	for i, f := range rec.Frames {
		if i == 0 || f.Snapshot.Index != rec.Frames[i-1].Snapshot.Index {
			p.marks = append(p.marks, i)
		}
	}
	p.seek(p.Start())
	return p, nil
}

// Start is when the recording starts: its first frame.
func (p *Player) Start() time.Time { return p.rec.Frames[0].At }

// End is when the recording ends: its last frame.
func (p *Player) End() time.Time { return p.rec.Frames[len(p.rec.Frames)-1].At }

// Now is the recorded instant shown now.
func (p *Player) Now() time.Time {
	if p.paused {
		return p.pos
	}
	t := p.pos.Add(time.Duration(float64(p.clock().Sub(p.wall)) * Speeds[p.speed]))
	if t.After(p.End()) {
		return p.End()
	}
	return t
}

// Frame is the index of the frame shown at recorded instant t: the last
// one published at or before it (the first before the recording starts).
func (p *Player) Frame(t time.Time) int {
	return max(0, sort.Search(len(p.rec.Frames), func(i int) bool { return p.rec.Frames[i].At.After(t) })-1)
}

// Paused reports whether the playback is paused.
func (p *Player) Paused() bool { return p.paused }

// Ended reports whether the playback has reached the end.
func (p *Player) Ended() bool { return !p.Now().Before(p.End()) }

// Speed is the playback speed, one of Speeds.
func (p *Player) Speed() float64 { return Speeds[p.speed] }

// WallUntil is how long the wall clock takes, at the current speed, to
// reach recorded instant t (0 if it is past; -1 while paused: never).
func (p *Player) WallUntil(t time.Time) time.Duration {
	if p.paused {
		return -1
	}
	return max(0, time.Duration(float64(t.Sub(p.Now()))/Speeds[p.speed]))
}

// TogglePause pauses or resumes; at the end it plays again from the start.
func (p *Player) TogglePause() {
	if p.Ended() {
		p.paused = false
		p.seek(p.Start())
		return
	}
	p.seek(p.Now())
	p.paused = !p.paused
}

// Faster steps to the next speed up, Slower to the next down.
func (p *Player) Faster() { p.setSpeed(min(p.speed+1, len(Speeds)-1)) }

// Slower steps to the next speed down.
func (p *Player) Slower() { p.setSpeed(max(p.speed-1, 0)) }

func (p *Player) setSpeed(i int) {
	p.seek(p.Now())
	p.speed = i
}

// NextChapter moves to where the chapter shown next starts (the end when
// none follows).
func (p *Player) NextChapter() {
	now := p.Now()
	for _, m := range p.marks {
		if at := p.rec.Frames[m].At; at.After(now) {
			p.seek(at)
			return
		}
	}
	p.seek(p.End())
}

// PrevChapter moves to where the chapter shown before the current one
// starts (the start of the recording before the first).
func (p *Player) PrevChapter() {
	cur := p.Frame(p.Now())
	k := sort.Search(len(p.marks), func(i int) bool { return p.marks[i] > cur }) - 1 // the current chapter's mark
	if k <= 0 {
		p.seek(p.Start())
		return
	}
	p.seek(p.rec.Frames[p.marks[k-1]].At)
}

// seek shows recorded instant t from now on, paused or not as before.
func (p *Player) seek(t time.Time) { p.pos, p.wall = t, p.clock() }

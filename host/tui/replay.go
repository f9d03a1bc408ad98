package tui

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/demohost/demohost/host/replay"
	"github.com/demohost/demohost/host/runner"
)

// Replay opens the terminal and plays rec back, from its start at speed
// (one of replay.Speeds), until the user presses q or ctx ends. It draws
// what the live run drew: the same Snapshots through the same render, with
// REPLAY, the recorded date and the speed in the header. The terminal is
// restored on every path.
func Replay(ctx context.Context, rec *runner.Recording, speed float64) error {
	p, err := replay.New(rec, speed, time.Now)
	if err != nil {
		return err
	}
	screen, err := tcell.NewScreen()
	if err != nil {
		return fmt.Errorf("open the terminal: %w (write a recording with --cast FILE.cast instead)", err)
	}
	if err := screen.Init(); err != nil {
		return fmt.Errorf("open the terminal: %w (write a recording with --cast FILE.cast instead)", err)
	}
	playBack(ctx, screen, rec, p, theme{noColor: os.Getenv("NO_COLOR") != ""})
	return nil
}

// playBack drives an initialised screen from p until q or ctx ends, and
// finalises it on every path (a panic: restored, then panicking on).
func playBack(ctx context.Context, screen tcell.Screen, rec *runner.Recording, p *replay.Player, th theme) {
	defer screen.Fini()
	registerFallbacks(screen)
	v := newView(th)
	v.keys = keysFor(replayMode)
	l := &loop{screen: screen, v: v, ctx: ctx, player: p, playback: &playback{rec: rec, v: v, shown: -1}}
	l.play()
}

// replayInfo is what the header says about a playback.
type replayInfo struct {
	speed  float64
	paused bool
	ended  bool
}

// playback shows a recording's frames, keeping the view's charts as the
// live view had them at each frame: fed every health snapshot up to it.
type playback struct {
	rec   *runner.Recording
	v     *view
	shown int // frame shown (-1: none yet)
	fed   int // health snapshots the charts were fed
}

// show makes frame k the one shown and returns its Snapshot.
func (pb *playback) show(k int) runner.Snapshot {
	f := pb.rec.Frames[k]
	if f.Healths < pb.fed { // moved back: chart again from the start
		pb.v.resetCharts()
		pb.fed = 0
	}
	for _, h := range pb.rec.Healths[pb.fed:f.Healths] {
		pb.v.observeHealth(h)
	}
	pb.fed, pb.shown = f.Healths, k
	return f.Snapshot
}

// next is when, after recorded instant now on frame k, the picture next
// changes: the next frame, a clock's next second, or the end (zero when
// now is the end).
func (pb *playback) next(k int, snap *runner.Snapshot, now time.Time) time.Time {
	end := pb.rec.Frames[len(pb.rec.Frames)-1].At
	if !now.Before(end) {
		return time.Time{}
	}
	next := end
	if k+1 < len(pb.rec.Frames) && pb.rec.Frames[k+1].At.Before(next) {
		next = pb.rec.Frames[k+1].At
	}
	if tick := nextTick(snap, now); !tick.IsZero() && tick.Before(next) {
		next = tick
	}
	return next
}

// play renders the frame of the player's instant, sleeping until the
// picture changes, and turns keys into player commands until q.
func (l *loop) play() {
	events, wake, stop := l.listen()
	defer stop()
	for !l.dismissed {
		now := l.player.Now()
		k := l.player.Frame(now)
		l.snap = l.playback.show(k)
		l.v.replay = &replayInfo{speed: l.player.Speed(), paused: l.player.Paused(), ended: l.player.Ended()}
		render(l.screen, &l.snap, l.v, now)
		l.screen.Show()
		wake.Stop()
		if next := l.playback.next(k, &l.snap, now); !next.IsZero() && !l.player.Paused() {
			wake.Reset(l.player.WallUntil(next))
		}
		select {
		case ev := <-events:
			l.event(ev)
		case <-wake.C:
		case <-l.ctx.Done(): // a signal
			l.dismissed = true
		}
	}
}

// The replay's actions of keyTable.

func (l *loop) pause() { l.player.TogglePause() }

func (l *loop) seekNext() {
	l.v.help = false
	l.player.NextChapter()
}

func (l *loop) seekPrev() {
	l.v.help = false
	l.player.PrevChapter()
}

func (l *loop) faster() { l.player.Faster() }

func (l *loop) slower() { l.player.Slower() }

func (l *loop) leave() { l.dismissed = true }

package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/replay"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/internal/testkit"
)

// capture is a simulation screen that keeps every frame the live loop
// shows, with the instant the loop drew it for (read from its clock).
type capture struct {
	*simScreen
	mu     sync.Mutex
	drawn  time.Time // what the loop's clock said last
	frames []shot
}

// shot is one frame shown and the instant it was drawn for.
type shot struct {
	at    time.Time
	cells []tcell.SimCell
}

func (c *capture) clock() time.Time {
	now := time.Now()
	c.mu.Lock()
	c.drawn = now
	c.mu.Unlock()
	return now
}

func (c *capture) Show() {
	c.simScreen.Show()
	cells, _, _ := c.GetContents()
	c.mu.Lock()
	c.frames = append(c.frames, shot{c.drawn, cells})
	c.mu.Unlock()
}

func (c *capture) shots() []shot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]shot(nil), c.frames...)
}

// pressUntil presses key until the screen shows want, one press at a time:
// a blocking chapter refuses until its countdown or action is done.
func pressUntil(t *testing.T, s *capture, key tcell.Key, r rune, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !screenHas(s, want) {
		if time.Now().After(deadline) {
			t.Fatalf("never showed %q:\n%s", want, strings.Join(rows(s), "\n"))
		}
		s.InjectKey(key, r, tcell.ModNone)
		waitShown(s, 300*time.Millisecond, want)
	}
}

// waitShown polls the screen for want, for at most d.
func waitShown(s tcell.SimulationScreen, d time.Duration, want string) bool {
	deadline := time.Now().Add(d)
	for !screenHas(s, want) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond) // a poll, as testkit.WaitFor does
	}
	return true
}

// recordLive runs the example demo in the live view on a w×h simulation
// screen, walking every chapter with space and quitting with q, and
// returns the frames it showed and its journal as written and read back.
func recordLive(t *testing.T, w, h int) ([]shot, *journal.Journal) {
	t.Helper()
	_, plugin := buildDemo(t)
	r := exampleRunner(t, plugin, map[string]string{"countdown": "1s", "detect_after": "100ms"}, runner.Config{})
	s := &capture{simScreen: newScreen(t, w, h)}
	out := make(chan runOutcome, 1)
	go func() {
		j, err := run(context.Background(), s, r, Options{clock: s.clock}, theme{})
		out <- runOutcome{j, err}
	}()
	testkit.WaitFor(t, 30*time.Second, "the first chapter", func() bool { return screenHas(s, "[1/5]") })
	for i := 2; i <= 5; i++ {
		pressUntil(t, s, tcell.KeyRune, ' ', fmt.Sprintf("[%d/5]", i))
		if i == 3 {
			testkit.WaitFor(t, 30*time.Second, "the fault and node_down", func() bool { return screenHas(s, "✓ violation node_down present") })
		}
	}
	s.InjectKey(tcell.KeyRune, 'q', tcell.ModNone)
	o := <-out
	if o.err != nil {
		t.Fatal(o.err)
	}
	path := filepath.Join(t.TempDir(), "report.json")
	if err := writeJournal(o.j, path); err != nil {
		t.Fatal(err)
	}
	j, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return s.shots(), j
}

// writeJournal writes j to path as --report does.
func writeJournal(j *journal.Journal, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := j.Encode(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// The replay draws what the live run drew: a run of the example plugin is
// recorded while every frame of the live view is captured on a simulation
// screen; then, for each of those frames, the replay of the journal is
// drawn at the same instant on a screen of the same size. Below the header
// and above the footer they are the same cell for cell, style included;
// the header shows the same clock, progress and fault (target, time left)
// after REPLAY, and the footer the same notice. The live view may lag the
// runner by Snapshots published while it was drawing (within maxLag, as
// right after a key sent the runner a command); such a frame equals the
// replay of a Snapshot before. (The frames drawn before the
// runner published its first Snapshot show nothing recorded.)
func TestReplayDrawsWhatTheLiveRunDrew(t *testing.T) {
	const w, h = 120, 40
	live, j := recordLive(t, w, h)
	rec, err := runner.ReadRecording(j)
	if err != nil {
		t.Fatal(err)
	}
	p, err := replay.New(rec, 1, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	v := newView(theme{})
	v.keys = keysFor(replayMode)
	pb := &playback{rec: rec, v: v, shown: -1}
	s := newScreen(t, w, h)
	replayed := func(k int, at time.Time) []tcell.SimCell {
		snap := pb.show(k)
		v.replay = &replayInfo{speed: 1}
		render(s, &snap, v, at)
		s.Show()
		cells, _, _ := s.GetContents()
		return cells
	}
	exact, lagged := 0, 0
	chapters := map[string]bool{}
	for i, f := range live {
		if f.at.Before(p.Start()) {
			continue // drawn before the runner published anything: nothing was recorded yet
		}
		k := p.Frame(f.at)
		diff := sameBody(f.cells, replayed(k, f.at), w, h)
		// The live view may not have drawn the latest Snapshots yet: those
		// published within maxLag before the instant.
		for j := k - 1; diff != "" && j >= 0 && f.at.Sub(rec.Frames[j+1].At) < maxLag; j-- {
			if sameBody(f.cells, replayed(j, f.at), w, h) == "" {
				lagged++
				diff = "lagged"
			}
		}
		switch diff {
		case "lagged":
			continue
		case "":
			exact++
		default:
			t.Fatalf("live frame %d of %d (at %s) differs from the replay at that instant: %s", i+1, len(live), f.at.Format("15:04:05.000000"), diff)
		}
		if m := progressRe.FindString(cellText(f.cells, w, 0)); m != "" {
			chapters[m[strings.Index(m, "["):]] = true
		}
	}
	t.Logf("%d live frames: %d equal to the replay at their instant, %d to the snapshot before", len(live), exact, lagged)
	for i := 1; i <= 5; i++ {
		if !chapters[fmt.Sprintf("[%d/5]", i)] || exact < 20 {
			t.Fatalf("compared %d frames over chapters %v; want every chapter, 20 frames or more", exact, chapters)
		}
	}
}

// maxLag is how far behind the runner the live view may draw: it reads one
// Snapshot at a time, and the runner may publish two in microseconds.
const maxLag = 20 * time.Millisecond

// progressRe finds the header's clock and progress: "01:05 │ [3/5]".
var progressRe = regexp.MustCompile(`\d\d:\d\d │ \[\d+/\d+\]`)

// sameBody compares a live frame with a replayed one: "" when they match,
// else what differs.
func sameBody(live, replayed []tcell.SimCell, w, h int) string {
	for y := 1; y < h-1; y++ {
		for x := range w {
			a, b := live[y*w+x], replayed[y*w+x]
			if string(a.Runes) != string(b.Runes) || a.Style != b.Style {
				return fmt.Sprintf("row %d:\nlive   %s\nreplay %s", y, cellText(live, w, y), cellText(replayed, w, y))
			}
		}
	}
	header, rheader := cellText(live, w, 0), cellText(replayed, w, 0)
	if !strings.HasPrefix(rheader, " ▶ REPLAY ") || !strings.Contains(rheader, progressRe.FindString(header)) {
		return fmt.Sprintf("header:\nlive   %s\nreplay %s", header, rheader)
	}
	// With REPLAY in it the header's left part is longer, and leaves the
	// badge less room: it may name the fault by its kind alone, as a
	// narrower live screen does; its target and time left are the same.
	if live, replayed := styledRun(live, w, 0, theme{}.alarm(), true), styledRun(replayed, w, 0, theme{}.alarm(), true); badgeTail(live) != badgeTail(replayed) {
		return fmt.Sprintf("fault badge: live %q, replay %q", live, replayed)
	}
	if live, replayed := styledRun(live, w, h-1, theme{}.notice(), false), styledRun(replayed, w, h-1, theme{}.notice(), false); live != replayed {
		return fmt.Sprintf("footer notice: live %q, replay %q", live, replayed)
	}
	return ""
}

// badgeTail is the fault badge's target and time left ("→ node-2 · 3s left").
func badgeTail(badge string) string {
	if i := strings.LastIndex(badge, "→"); i >= 0 {
		return strings.TrimSpace(badge[i:])
	}
	return strings.TrimSpace(badge)
}

// cellText is row y of cells as text.
func cellText(cells []tcell.SimCell, w, y int) string {
	var b strings.Builder
	for x := range w {
		b.WriteString(string(cells[y*w+x].Runes))
	}
	return b.String()
}

// styledRun is the text of row y drawn in style st: from its first such
// cell to the row's end (right) or from the row's start while the style
// holds (left).
func styledRun(cells []tcell.SimCell, w, y int, st tcell.Style, right bool) string {
	var b strings.Builder
	in := false
	for x := range w {
		c := cells[y*w+x]
		switch {
		case c.Style == st:
			in = true
			b.WriteString(string(c.Runes))
		case in && right:
			b.WriteString(string(c.Runes))
		case !right:
			return b.String()
		}
	}
	return b.String()
}

// shippedJournal is the rate-limiter run recorded in the repository.
func shippedJournal() string {
	return filepath.Join(testkit.Root(), "recordings", "ratelimiter.json")
}

// shipped is the shipped journal's recording.
func shipped(t *testing.T) *runner.Recording {
	t.Helper()
	j, err := journal.Read(shippedJournal())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := runner.ReadRecording(j)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// The replay's keys act on the playback, as the help says: → and ← move
// by chapter, space pauses, + and - change the speed, q quits; the screen
// may be resized like the live one.
func TestReplayKeys(t *testing.T) {
	rec := shipped(t)
	p, err := replay.New(rec, 1, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	s := newScreen(t, 120, 40)
	done := make(chan struct{})
	go func() {
		playBack(context.Background(), s, rec, p, theme{})
		close(done)
	}()
	shows := func(what string) {
		t.Helper()
		testkit.WaitFor(t, 5*time.Second, what, func() bool { return screenHas(s, what) })
	}
	key := func(k tcell.Key, r rune) { s.InjectKey(k, r, tcell.ModNone) }
	date := rec.Frames[0].Snapshot.StartedAt.Format("2006-01-02")
	shows("▶ REPLAY " + date + " 1× │ ratelimiter")
	shows("space pause · → next · ← back · + faster · - slower · ? help · q quit")
	key(tcell.KeyRune, ' ')
	shows("‖ REPLAY " + date + " 1× │")
	key(tcell.KeyRight, 0)
	shows("[1/12] A healthy cluster")
	key(tcell.KeyRight, 0)
	shows("[2/12] Baseline traffic")
	key(tcell.KeyLeft, 0)
	shows("[1/12] A healthy cluster")
	for range 2 { // to "Pause Redis", whose key hint is the live run's
		key(tcell.KeyRight, 0)
	}
	shows("─ Pause Redis · ")
	if footer := rows(s)[39]; !strings.Contains(footer, "space pause · → next") || strings.Contains(footer, "redis_unreachable") {
		t.Errorf("replay footer %q; want the replay's keys, not the chapter's live hint", footer)
	}
	for range 2 {
		key(tcell.KeyLeft, 0)
	}
	shows("[1/12] A healthy cluster")
	key(tcell.KeyRune, '+')
	shows("‖ REPLAY " + date + " 2× │")
	key(tcell.KeyRune, '-')
	key(tcell.KeyRune, '-')
	shows("‖ REPLAY " + date + " ½× │")
	key(tcell.KeyRune, '?')
	shows("pause, resume (at the end: from the start)")
	key(tcell.KeyEscape, 0)
	testkit.WaitFor(t, 5*time.Second, "help closed", func() bool { return !screenHas(s, "pause, resume (at the end") })

	s.SetSize(70, 20)
	_ = s.PostEvent(tcell.NewEventResize(70, 20))
	shows("terminal too small (need 80x24)")
	s.SetSize(100, 30)
	_ = s.PostEvent(tcell.NewEventResize(100, 30))
	shows("[1/12] A healthy cluster")

	for range 12 {
		key(tcell.KeyRight, 0)
	}
	shows("■ REPLAY " + date + " ½× │")
	shows("[12/12] Summary")
	key(tcell.KeyRune, ' ') // at the end: from the start, playing
	shows("▶ REPLAY " + date + " ½× │")
	key(tcell.KeyRune, 'q')
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("q did not end the replay")
	}
}

// With NO_COLOR the replay uses no colour, as the live view does.
func TestReplayNoColor(t *testing.T) {
	rec := shipped(t)
	v := newView(theme{noColor: true})
	v.keys, v.replay = keysFor(replayMode), &replayInfo{speed: 1}
	pb := &playback{rec: rec, v: v, shown: -1}
	s := newScreen(t, 120, 40)
	for k := range rec.Frames {
		snap := pb.show(k)
		render(s, &snap, v, rec.Frames[k].At)
	}
	s.Show()
	cells, _, _ := s.GetContents()
	for i, c := range cells {
		if f, b, _ := c.Style.Decompose(); f != tcell.ColorDefault || b != tcell.ColorDefault {
			t.Fatalf("cell %d %q has colours %v/%v with NO_COLOR", i, string(c.Runes), f, b)
		}
	}
	mustShow(t, s, "[12/12] Summary")
}

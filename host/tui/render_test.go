package tui

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/uniseg"

	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/subject"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// simScreen is tcell's simulated terminal, made safe to read while the
// view's loop draws on it: GetContents hands out the cells Show writes.
type simScreen struct {
	tcell.SimulationScreen
	mu sync.Mutex
}

func (s *simScreen) Show() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.SimulationScreen.Show()
}

func (s *simScreen) Sync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.SimulationScreen.Sync()
}

func (s *simScreen) SetSize(w, h int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.SimulationScreen.SetSize(w, h)
}

// GetContents copies the cells.
func (s *simScreen) GetContents() ([]tcell.SimCell, int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cells, w, h := s.SimulationScreen.GetContents()
	return append([]tcell.SimCell(nil), cells...), w, h
}

// newScreen is a simulated terminal of w×h cells.
func newScreen(t testing.TB, w, h int) *simScreen {
	t.Helper()
	s := tcell.NewSimulationScreen("UTF-8")
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	s.SetSize(w, h)
	t.Cleanup(s.Fini)
	return &simScreen{SimulationScreen: s}
}

// rows is the simulated screen as text, one string per row.
func rows(s tcell.SimulationScreen) []string {
	cells, w, h := s.GetContents()
	out := make([]string, h)
	for y := 0; y < h; y++ {
		var b strings.Builder
		for x := 0; x < w; x++ {
			r := cells[y*w+x].Runes
			if len(r) == 0 {
				continue // the second half of a wide rune
			}
			b.WriteString(string(r))
		}
		out[y] = b.String()
	}
	return out
}

func screenHas(s tcell.SimulationScreen, want string) bool {
	return strings.Contains(strings.Join(rows(s), "\n"), want)
}

func mustShow(t *testing.T, s tcell.SimulationScreen, want ...string) {
	t.Helper()
	for _, w := range want {
		if !screenHas(s, w) {
			t.Errorf("screen lacks %q; it shows:\n%s", w, strings.Join(rows(s), "\n"))
		}
	}
}

// styleOf finds the first cell where text starts and returns its style.
func styleOf(t *testing.T, s tcell.SimulationScreen, text string) tcell.Style {
	t.Helper()
	cells, w, h := s.GetContents()
	first := []rune(text)[0]
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := cells[y*w+x]
			if len(c.Runes) == 0 || c.Runes[0] != first {
				continue
			}
			if strings.HasPrefix(rows(s)[y][len(string(runesBefore(cells, w, x, y))):], text) {
				return c.Style
			}
		}
	}
	t.Fatalf("%q not on screen", text)
	return tcell.StyleDefault
}

func runesBefore(cells []tcell.SimCell, w, x, y int) []rune {
	var out []rune
	for i := 0; i < x; i++ {
		out = append(out, cells[y*w+i].Runes...)
	}
	return out
}

func fg(st tcell.Style) tcell.Color { f, _, _ := st.Decompose(); return f }

// demoSnapshot is the example demo two minutes in: chapter 3 of 5 with a
// node killed, one node of every state, metrics, an over-limit counter.
func demoSnapshot() runner.Snapshot {
	return runner.Snapshot{
		Subject: "example", SubjectVersion: "2.0.0", StartedAt: t0.Add(-65 * time.Second),
		Phase: runner.PhaseRunning, Index: 2,
		Chapters: []runner.ChapterSummary{
			{Title: "A healthy cluster", Status: "passed"}, {Title: "Warm-up", Status: "passed"},
			{Title: "Kill a node", Status: "running"}, {Title: "Recovery"}, {Title: "Done"},
		},
		Current: &runner.ChapterView{
			Title:     "Kill a node",
			Narration: "We [red]kill[/] one node. Nothing is wrong *yet*.",
			KeyHint:   "space: continue once node_down shows",
			Status:    []runner.StatusLine{{Message: "countdown over"}},
			Expectations: []runner.ExpectationView{
				{Description: "violation node_down present", Mode: subject.Eventually, State: runner.Pending, Armed: true, Deadline: t0.Add(7500 * time.Millisecond)},
				{Description: "node-2 is DOWN", Mode: subject.Eventually, State: runner.Met, Armed: true, MetAt: t0},
				{Description: "all nodes UP", Mode: subject.Eventually, State: runner.TimedOut, Armed: true, Reason: "timed out"},
			},
		},
		Chaos: []runner.ActiveChaos{{Kind: "NODE_KILL", Label: "kill one node (NODE_KILL, count=1)", Target: "node-2", InjectedAt: t0.Add(-3 * time.Second), Until: t0.Add(27 * time.Second)}},
		Health: &subject.Health{
			TakenAt: t0,
			Nodes: []subject.Node{
				{ID: "node-1", Name: "node-1", Role: "leader", State: subject.Up, Address: "127.0.0.1:7001"},
				{ID: "node-2", Name: "node-2", Role: "follower", State: subject.Down, Address: "127.0.0.1:7002", Detail: "killed"},
				{ID: "node-3", Name: "node-3", Role: "follower", State: subject.Paused, Address: "127.0.0.1:7003"},
				{ID: "node-4", Name: "node-4", Role: "follower", State: subject.Degraded, Address: "127.0.0.1:7004"},
				{ID: "node-5", Name: "node-5", Role: "follower", State: subject.Unknown, Address: "127.0.0.1:7005"},
			},
			Metrics:    []subject.Metric{{Name: "requests", Value: 1200, Unit: "req"}, {Name: "nodes_up", Value: 1, Unit: "nodes"}},
			Counters:   []subject.Counter{{Key: "tenant-a", Count: 1200, Limit: 1000}, {Key: "tenant-b", Count: 10, Limit: 1000}},
			Violations: []subject.Violation{{Invariant: "node_down", Severity: subject.Critical, Target: "node-2", Message: "node-2 is not answering"}},
		},
		Events: []runner.Event{
			{At: t0.Add(-3 * time.Second), Kind: "chaos", Severity: subject.Warning, Message: "injected kill one node (NODE_KILL, count=1) on node-2"},
			{At: t0.Add(-1 * time.Second), Kind: "violation", Message: "node_down raised on node-2"},
		},
	}
}

func draw(t *testing.T, snap runner.Snapshot, v *view, w, h int) *simScreen {
	t.Helper()
	s := newScreen(t, w, h)
	v.observe(&snap)
	render(s, &snap, v, t0)
	s.Show()
	return s
}

func TestRenderShowsTheWholeDemo(t *testing.T) {
	s := draw(t, demoSnapshot(), newView(theme{}), 120, 40)
	mustShow(t, s,
		"example 2.0.0", "[3/5] Kill a node", "01:05", // header: subject, progress, elapsed
		"⚡ kill one node (NODE_KILL, count=1) → node-2 · 27s left", // chaos badge: name, kind, parameters
		"cluster · 1/5 up", "● node-1", "✗ node-2", "‖ node-3", "◐ node-4", "? node-5",
		"leader", "127.0.0.1:7002", "killed",
		"⚠ node_down node-2: node-2 is not answering",
		"Kill a node · running", "We kill one node. Nothing is wrong yet.", // markup rendered, not shown
		"○ violation node_down present · 8s left", "✓ node-2 is DOWN", "✗ all nodes UP (timed out)",
		"countdown over",
		"requests", "1200 req", "tenant-a", "1200/1000 over limit", "10/1000",
		"11:59:57 chaos", "injected kill one node", // cut to the panel's width
		"space: continue once node_down shows", // footer: the chapter's key hint
	)
	if screenHas(s, "[red]") || screenHas(s, "*yet*") {
		t.Error("narration markup shown as text")
	}
	if c := fg(styleOf(t, s, "✗ node-2")); c != tcell.ColorRed {
		t.Errorf("DOWN glyph colour = %v, want red", c)
	}
	if c := fg(styleOf(t, s, "● node-1")); c != tcell.ColorGreen {
		t.Errorf("UP glyph colour = %v, want green", c)
	}
	if c := fg(styleOf(t, s, "‖ node-3")); c != tcell.ColorYellow {
		t.Errorf("PAUSED glyph colour = %v, want yellow", c)
	}
	if c := fg(styleOf(t, s, "kill one node. Nothing")); c != tcell.ColorRed {
		t.Errorf("[red]kill[/] drawn in %v, want red", c)
	}
	if _, _, a := styleOf(t, s, "yet.").Decompose(); a&tcell.AttrBold == 0 {
		t.Error("*yet* not bold")
	}
	if c := fg(styleOf(t, s, "1200/1000 over limit")); c != tcell.ColorRed {
		t.Errorf("over-limit counter colour = %v, want red", c)
	}
}

// On a narrow screen the badge keeps what a presenter needs, the fault's
// kind, its target and the time left, beside the progress.
func TestRenderNarrowHeaderKeepsBadgeAndProgress(t *testing.T) {
	s := draw(t, demoSnapshot(), newView(theme{}), 80, 24)
	mustShow(t, s, "example 2.0.0 │ 01:05 │ [3/5] Kill", "⚡ NODE_KILL → node-2 · 27s left")
	// Where the left part leaves the room, the badge names the fault in
	// full, however long.
	snap := demoSnapshot()
	snap.Chaos[0].Until = time.Time{}
	mustShow(t, draw(t, snap, newView(theme{}), 120, 40), "[3/5] Kill a node", "⚡ kill one node (NODE_KILL, count=1) → node-2 · until reverted")
}

func TestRenderExpectationWaitingForCountdown(t *testing.T) {
	snap := demoSnapshot()
	snap.Current.Expectations[0].Deadline = time.Time{}
	snap.Current.Expectations[0].Armed = false
	s := draw(t, snap, newView(theme{}), 120, 40)
	mustShow(t, s, "○ violation node_down present · waits for the fault")
	if screenHas(s, "present · 8s left") || screenHas(s, "present · 0s left") {
		t.Error("time left shown for an expectation that has not started")
	}
}

func TestRenderDefaultKeysWithoutHint(t *testing.T) {
	snap := demoSnapshot()
	snap.Current.KeyHint = ""
	mustShow(t, draw(t, snap, newView(theme{}), 100, 30), "space/enter/→ next · ← back · ? help · q quit")
}

// A chapter's key hint says what its keys do in that chapter; the footer
// then leaves out the built-in bindings of the keys it names, so no key
// is offered twice.
func TestFooterNeverRepeatsABinding(t *testing.T) {
	for _, tt := range []struct{ hint, want string }{
		{"q: quit", "q: quit · space/enter/→ next · ← back · ? help"},
		{"space: continue once node_down shows", "space: continue once node_down shows · ← back · ? help · q quit"},
		{"Enter/Right: on · Esc: nothing", "Enter/Right: on · Esc: nothing · ← back · ? help · q quit"},
		{"", "space/enter/→ next · ← back · ? help · q quit"},
	} {
		snap := demoSnapshot()
		snap.Current.KeyHint = tt.hint
		s := draw(t, snap, newView(theme{}), 120, 40)
		if footer := strings.TrimSpace(rows(s)[39]); footer != tt.want {
			t.Errorf("key hint %q: footer %q, want %q", tt.hint, footer, tt.want)
		}
	}
}

// The help screen and the footer are the key table: every row of a mode
// has its line in the help, and every row with a hint is in the footer.
func TestHelpAndFooterListTheKeyTable(t *testing.T) {
	for _, m := range []mode{liveMode, replayMode} {
		v := newView(theme{})
		v.keys, v.help = keysFor(m), true
		snap := demoSnapshot()
		snap.Current.KeyHint = ""
		s := draw(t, snap, v, 120, 40)
		for _, a := range v.keys {
			mustShow(t, s, a.names(", ", true))
			mustShow(t, s, a.help)
			if a.hint != "" && !strings.Contains(rows(s)[39], a.names("/", false)+" "+a.hint) {
				t.Errorf("mode %d: footer %q lacks %q", m, rows(s)[39], a.hint)
			}
		}
	}
}

func TestRenderShowsRefusalNotice(t *testing.T) {
	snap := demoSnapshot()
	snap.Notice = "wait: the chaos countdown is running"
	mustShow(t, draw(t, snap, newView(theme{}), 100, 30), "⚠ wait: the chaos countdown is running")
}

func TestRenderCountdownAndAction(t *testing.T) {
	snap := demoSnapshot()
	snap.Current.CountdownUntil = t0.Add(2100 * time.Millisecond)
	snap.Current.ActionRunning = true
	mustShow(t, draw(t, snap, newView(theme{}), 100, 30), "⏳ chaos in 3s", "▶ action running…")
}

func TestRenderTooSmall(t *testing.T) {
	s := draw(t, demoSnapshot(), newView(theme{}), 60, 20)
	mustShow(t, s, "terminal too small (need 80x24)", "now 60x20")
	if screenHas(s, "node-1") {
		t.Error("panels drawn on a too-small screen")
	}
	// Even a tiny screen does not panic.
	draw(t, demoSnapshot(), newView(theme{}), 3, 1)
}

func TestRenderHelpOverlay(t *testing.T) {
	v := newView(theme{})
	v.help = true
	mustShow(t, draw(t, demoSnapshot(), v, 100, 30), "previous chapter (not re-run)", "quit (reverts chaos first)")
}

func TestRenderPluginErrorAndStopping(t *testing.T) {
	snap := demoSnapshot()
	snap.PluginError = "plugin exited unexpectedly (exit status 2)"
	snap.Phase = runner.PhaseStopping
	s := draw(t, snap, newView(theme{}), 100, 30)
	mustShow(t, s, "✗ plugin error: plugin exited unexpectedly (exit status 2)", "reverting chaos (1 active) before quitting")
}

func TestRenderBeforeTheFirstChapter(t *testing.T) {
	snap := runner.Snapshot{Subject: "example", Phase: runner.PhaseStarting, Index: -1, Chapters: make([]runner.ChapterSummary, 5)}
	mustShow(t, draw(t, snap, newView(theme{}), 100, 30), "[0/5]", "setting up example", "waiting for health…")
}

func TestRenderNoColor(t *testing.T) {
	s := draw(t, demoSnapshot(), newView(theme{noColor: true}), 120, 40)
	cells, _, _ := s.GetContents()
	for i, c := range cells {
		if f, b, _ := c.Style.Decompose(); f != tcell.ColorDefault || b != tcell.ColorDefault {
			t.Fatalf("cell %d %q has colours %v/%v with NO_COLOR", i, string(c.Runes), f, b)
		}
	}
	// States still differ by glyph, and the badge still stands out.
	mustShow(t, s, "● node-1", "✗ node-2", "‖ node-3", "◐ node-4", "? node-5")
	if _, _, a := styleOf(t, s, "⚡ kill one node").Decompose(); a&tcell.AttrReverse == 0 {
		t.Error("chaos badge not reversed without colour")
	}
}

func TestRenderWithoutUTF8KeepsStatesApart(t *testing.T) {
	sim := tcell.NewSimulationScreen("US-ASCII")
	if err := sim.Init(); err != nil {
		t.Fatal(err)
	}
	defer sim.Fini()
	sim.SetSize(120, 40)
	registerFallbacks(sim)
	snap := demoSnapshot()
	render(sim, &snap, newView(theme{}), t0)
	sim.Show()
	cells, w, h := sim.GetContents()
	var b strings.Builder
	for i, c := range cells {
		b.Write(c.Bytes)
		if i%w == w-1 && i/w < h-1 {
			b.WriteByte('\n')
		}
	}
	for _, want := range []string{"+ node-1", "x node-2", "= node-3", "~ node-4", "? node-5", "! kill one node (NODE_KILL, count=1) > node-2"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("ASCII terminal lacks %q; it shows:\n%s", want, b.String())
		}
	}
}

func TestRenderManyNodesShowsWhatFits(t *testing.T) {
	snap := demoSnapshot()
	snap.Health.Nodes = bigCluster(100)
	s := draw(t, snap, newView(theme{}), 100, 30)
	mustShow(t, s, "cluster · 99/100 up", "⚠ node_down node-2", "● node-000", "more nodes, 1 of them not UP")
}

func TestSparklineFollowsHistory(t *testing.T) {
	v := newView(theme{})
	for i, x := range []float64{0, 10, 20, 30} {
		snap := demoSnapshot()
		snap.Health.TakenAt = t0.Add(time.Duration(i) * time.Second)
		snap.Health.Metrics[0].Value = x
		v.observe(&snap)
	}
	if got := sparkline(v.history["requests"], 10); got != "▁▃▅█" {
		t.Errorf("sparkline = %q, want ▁▃▅█", got)
	}
	if got := sparkline([]float64{3, 3, 2}, 10); got != "██▅" {
		t.Errorf("sparkline of 3 3 2 = %q, want ██▅ (scaled from zero)", got)
	}
	snap := demoSnapshot()
	snap.Health.TakenAt = t0.Add(4 * time.Second)
	snap.Health.Metrics[0].Value = 40
	mustShow(t, draw(t, snap, v, 120, 40), "40 req", "▁▂▄▆█")
}

func TestNextTick(t *testing.T) {
	snap := demoSnapshot()
	// The elapsed clock started at t0-65s ticks at t0+1s, as do the badge
	// (27s left) and the expectation (7s left).
	snap.Current.Expectations[0].Deadline = t0.Add(7 * time.Second)
	if got := nextTick(&snap, t0.Add(100*time.Millisecond)); !got.Equal(t0.Add(time.Second)) {
		t.Errorf("next tick = %v, want t0+1s", got.Sub(t0))
	}
	snap.Current.Expectations[0].Deadline = t0.Add(2300 * time.Millisecond)
	if got := nextTick(&snap, t0.Add(100*time.Millisecond)); !got.Equal(t0.Add(300 * time.Millisecond)) {
		t.Errorf("next tick = %v, want t0+300ms (expectation's seconds-left changes)", got.Sub(t0))
	}
	done := runner.Snapshot{Phase: runner.PhaseDone, StartedAt: t0}
	if got := nextTick(&done, t0); !got.IsZero() {
		t.Errorf("nothing time-dependent shown, yet next tick = %v", got)
	}
}

func bigCluster(n int) []subject.Node {
	nodes := make([]subject.Node, n)
	for i := range nodes {
		state := subject.Up
		if i == 42 {
			state = subject.Down
		}
		name := fmt.Sprintf("node-%03d", i)
		nodes[i] = subject.Node{ID: name, Name: name, Role: "store", State: state, Address: "10.0.0.1:20160"}
	}
	return nodes
}

// Long names are cut in the middle so the part that tells nodes apart stays.
func TestPadNameKeepsTheEnd(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"node-1", 8, "node-1  "},
		{"tikv-fixture-store1-leadwalk", 19, "tikv-fi…e1-leadwalk"},
		{"tikv-fixture-store2-leadwalk", 19, "tikv-fi…e2-leadwalk"},
		{"abcdefgh", 4, "abc…"},
	} {
		if got := padName(tt.in, tt.n); got != tt.want || uniseg.StringWidth(got) != tt.n {
			t.Errorf("padName(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// A counter metric is charted as its rate per second, its total beside;
// a counter (the bar kind) without a limit shows its count alone.
func TestRenderCounterMetricAsRate(t *testing.T) {
	v := newView(theme{})
	snap := demoSnapshot()
	for i, total := range []float64{100, 300} {
		h := *snap.Health
		h.TakenAt = t0.Add(time.Duration(i) * time.Second)
		h.Metrics = []subject.Metric{{Name: "requests", Value: total, Unit: "req", Kind: subject.MetricCounter}}
		h.Counters = []subject.Counter{{Key: "keys", Count: 42}}
		snap.Health = &h
		v.observe(&snap)
	}
	s := draw(t, snap, v, 120, 40)
	mustShow(t, s, "requests 200 req/s", "Σ 300")
	for _, row := range rows(s) {
		if cells := strings.Split(row, "│"); len(cells) > 1 && strings.HasPrefix(cells[1], "keys") {
			if got := strings.Fields(cells[1]); len(got) != 2 || got[1] != "42" {
				t.Errorf("counter without a limit shows %q; want its count alone", cells[1])
			}
			return
		}
	}
	t.Error("the counter is not shown")
}

// A view that missed Snapshots (the runner keeps only the newest for it)
// charts the same samples as one that read every one: it catches up from
// Snapshot.Recent.
func TestMissedSnapshotsLoseNoSample(t *testing.T) {
	every, some := newView(theme{}), newView(theme{})
	var recent []*subject.Health
	for i := range 30 {
		h := *demoSnapshot().Health
		h.TakenAt = t0.Add(time.Duration(i) * 250 * time.Millisecond)
		h.Metrics = []subject.Metric{{Name: "requests", Value: float64(i * i * 10), Kind: subject.MetricCounter}, {Name: "p99", Value: float64(i % 7)}}
		recent = append(recent, &h)
		snap := demoSnapshot()
		snap.Health, snap.Recent = &h, recent[max(0, len(recent)-runner.RecentHealth):]
		every.observe(&snap)
		if i%4 == 3 || i == 29 { // the last one is read by both
			some.observe(&snap)
		}
	}
	for _, name := range []string{"requests", "p99"} {
		if got, want := fmt.Sprint(some.history[name]), fmt.Sprint(every.history[name]); got != want || len(every.history[name]) < 29 {
			t.Errorf("%s charted %s after missing snapshots, %s after reading all", name, got, want)
		}
	}
}

// At the smallest screen a cut value ends in "…" (a port cut to "36" must
// not read as port 36), and the expectations stay in view above the
// action's status lines.
func TestSmallScreenCutsVisiblyAndKeepsExpectations(t *testing.T) {
	snap := demoSnapshot()
	snap.Health.Nodes[0].Detail = "PING 0.4ms, 3 clients, role master, replication offset 1234567"
	snap.Current.Status = []runner.StatusLine{{Message: "one"}, {Message: "two"}, {Message: "three"}, {Message: "four"}}
	snap.Current.Narration = strings.Repeat("A long narration that fills the panel. ", 6)
	s := draw(t, snap, newView(theme{}), 80, 24)
	var node1 string
	for _, r := range rows(s) {
		if strings.Contains(r, "node-1") {
			node1 = r
		}
	}
	if !strings.Contains(node1, "…") {
		t.Errorf("node-1's row is cut without an ellipsis: %q", node1)
	}
	mustShow(t, s, "✓ node-2 is DOWN", "all nodes UP")
}

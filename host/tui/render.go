package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/uniseg"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/replay"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/subject"
)

// The smallest screen the layout fits in.
const (
	minWidth  = 80
	minHeight = 24
)

// render draws one frame: a pure function of the snapshot, the view and the
// screen's size (and now, for clocks). It does not call Show.
func render(s tcell.Screen, snap *runner.Snapshot, v *view, now time.Time) {
	v.frame.begin(s)
	defer v.frame.flush()
	w, h := s.Size()
	c := canvas{s: &v.frame, th: v.th}
	if w < minWidth || h < minHeight {
		drawTooSmall(c, w, h)
		return
	}
	drawHeader(c, snap, v.replay, now, w)
	y := 1
	for _, b := range banners(snap, v) {
		c.fill(rect{0, y, w, 1}, b.style)
		c.textEllipsis(1, y, w-2, b.text, b.style)
		y++
	}
	drawFooter(c, snap, v, w, h-1)

	body := rect{0, y, w, h - 1 - y}
	if len(v.watches) > 0 {
		wh := max(6, body.h/3)
		drawWatches(c, v.watches, rect{0, body.y + body.h - wh, w, wh})
		body.h -= wh
	}
	leftW := max(40, w/2)
	left := rect{0, body.y, leftW, body.h}
	right := rect{leftW, body.y, w - leftW, body.h}

	ch := clamp(clusterNeed(snap.Health)+2, 4, left.h*2/3)
	clusterLines := clusterContent(c.th, snap.Health, ch-2)
	drawLines(c, c.box(rect{left.x, left.y, left.w, ch}, clusterTitle(snap.Health), c.th.border()), clusterLines)
	drawMetrics(c, snap.Health, v, c.box(rect{left.x, left.y + ch, left.w, left.h - ch}, "metrics", c.th.border()))

	title, narration := narrationContent(c.th, snap, v, now, right.w-2)
	nh := clamp(len(narration)+2, 5, right.h*2/3)
	drawLines(c, c.box(rect{right.x, right.y, right.w, nh}, title, c.th.border()), narration)
	drawEvents(c, snap.Events, c.box(rect{right.x, right.y + nh, right.w, right.h - nh}, "events", c.th.border()))

	if v.help {
		drawHelp(c, v.keys, w, h)
	}
}

func drawTooSmall(c canvas, w, h int) {
	msg := fmt.Sprintf("terminal too small (need %dx%d)", minWidth, minHeight)
	now := fmt.Sprintf("now %dx%d · q quits", w, h)
	y := max(0, h/2-1)
	c.text(max(0, (w-len(msg))/2), y, w, msg, c.th.bad())
	c.text(max(0, (w-len(now))/2), y+1, w, now, c.th.base())
}

func drawHeader(c canvas, snap *runner.Snapshot, rp *replayInfo, now time.Time, w int) {
	bar := c.th.bar()
	c.fill(rect{0, 0, w, 1}, bar)
	name := "demohost"
	if snap.Subject != "" {
		name = strings.TrimSpace(snap.Subject + " " + snap.SubjectVersion)
	}
	// The chapter title goes last: on a narrow screen it is what gets cut.
	progress := fmt.Sprintf("[%d/%d]", snap.Index+1, len(snap.Chapters))
	if snap.Current != nil {
		progress += " " + snap.Current.Title
	}
	left := strings.Join([]string{name, clock(snap, now), progress}, " │ ")
	if rp != nil {
		left = replayTag(snap, rp) + " │ " + left
	}
	badgeW := 0
	if len(snap.Chaos) > 0 {
		// The badge gets the room the left part leaves, and at least half.
		room := max(w/2, w-uniseg.StringWidth(left)-3)
		a := snap.Chaos[0]
		badge := headerBadge(snap, a.Label, now)
		if uniseg.StringWidth(badge) > room {
			// Too long: the kind alone, so the target and the time left
			// still show.
			badge = headerBadge(snap, a.Kind, now)
		}
		badgeW = min(uniseg.StringWidth(badge), room)
		c.textEllipsis(w-badgeW, 0, badgeW, badge, c.th.alarm())
	}
	c.textEllipsis(1, 0, w-badgeW-2, left, bar.Bold(true))
}

// replayTag says the screen is a replay, of the run recorded when, at
// which speed, and whether it plays (▶), is paused (‖) or has ended (■);
// short, so that the progress still fits beside a fault's badge.
func replayTag(snap *runner.Snapshot, rp *replayInfo) string {
	glyph := "▶"
	switch {
	case rp.ended:
		glyph = "■"
	case rp.paused:
		glyph = "‖"
	}
	return glyph + " REPLAY " + snap.StartedAt.Format("2006-01-02") + " " + replay.SpeedLabel(rp.speed)
}

func clock(snap *runner.Snapshot, now time.Time) string {
	if snap.StartedAt.IsZero() {
		return "--:--"
	}
	d := now.Sub(snap.StartedAt).Truncate(time.Second)
	if d < 0 {
		d = 0
	}
	return fmt.Sprintf("%02d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

// headerBadge is the header's badge for the first active fault, named
// name, and how many more there are.
func headerBadge(snap *runner.Snapshot, name string, now time.Time) string {
	badge := " ⚡ " + chaosBadge(snap.Chaos[0], name, now)
	if n := len(snap.Chaos) - 1; n > 0 {
		badge += fmt.Sprintf(" (+%d more)", n)
	}
	return badge + " "
}

func chaosBadge(a runner.ActiveChaos, name string, now time.Time) string {
	s := name
	if a.Target != "" {
		s += " → " + a.Target
	}
	if a.Until.IsZero() {
		return s + " · until reverted"
	}
	return fmt.Sprintf("%s · %ds left", s, secondsLeft(now, a.Until))
}

type banner struct {
	text  string
	style tcell.Style
}

func banners(snap *runner.Snapshot, v *view) []banner {
	var out []banner
	if snap.PluginError != "" {
		msg := "✗ plugin error: " + snap.PluginError
		if v.restart != nil && !v.restarting {
			msg = "✗ plugin error (press r to restart the plugin): " + snap.PluginError
		}
		out = append(out, banner{msg, v.th.alarm()})
	}
	if v.restarting {
		out = append(out, banner{"… restarting the plugin", v.th.notice()})
	}
	if v.restartErr != "" {
		out = append(out, banner{"✗ restart failed: " + v.restartErr, v.th.alarm()})
	}
	if v.ended != "" {
		out = append(out, banner{"■ the demo ended: " + v.ended + " · press q to exit", v.th.alarm()})
	}
	switch snap.Phase {
	case runner.PhaseStarting:
		out = append(out, banner{"… setting up " + snap.Subject, v.th.notice()})
	case runner.PhaseStopping:
		msg := "… tearing down"
		if n := len(snap.Chaos); n > 0 {
			msg = fmt.Sprintf("… reverting chaos (%d active) before quitting", n)
		}
		out = append(out, banner{msg, v.th.notice()})
	}
	return out
}

// drawFooter shows the notice and the keys: the chapter's own hint first
// in a live run (a replay's keys are not the chapter's).
func drawFooter(c canvas, snap *runner.Snapshot, v *view, w, y int) {
	bar := c.th.bar()
	c.fill(rect{0, y, w, 1}, bar)
	x := 0
	if snap.Notice != "" {
		x = c.textEllipsis(0, y, w*2/3, " ⚠ "+snap.Notice+" ", c.th.notice()) + 1
	}
	hint := ""
	if snap.Current != nil && v.replay == nil {
		hint = snap.Current.KeyHint
	}
	c.textEllipsis(x+1, y, w-x-2, footerKeys(v.keys, hint), bar)
}

func drawLines(c canvas, in rect, lines []styledLine) {
	for i := 0; i < in.h && i < len(lines); i++ {
		c.line(in.x, in.y+i, in.w, lines[i])
	}
}

func clusterTitle(h *subject.Health) string {
	if h == nil {
		return "cluster"
	}
	up := 0
	for _, n := range h.Nodes {
		if n.State == subject.Up {
			up++
		}
	}
	return fmt.Sprintf("cluster · %d/%d up", up, len(h.Nodes))
}

// clusterContent is the health error and active violations, then the
// nodes (glyph, name, state, role, address, detail). When they do not fit
// in rows, the last row counts the nodes left out and those not UP.
func clusterContent(th theme, h *subject.Health, rows int) []styledLine {
	if h == nil {
		return []styledLine{{{"waiting for health…", th.dim()}}}
	}
	var lines []styledLine
	if h.Error != "" {
		lines = append(lines, styledLine{{"⚠ health: " + h.Error, th.bad()}})
	}
	if h.Note != "" {
		lines = append(lines, styledLine{{"⚠ " + h.Note, th.warn()}})
	}
	for _, vi := range h.Violations {
		st, glyph := th.bad(), "⚠ "
		switch vi.Severity {
		case subject.Warning:
			st = th.warn()
		case subject.Info: // informational: worth a line, not an alarm
			st, glyph = th.dim(), "· "
		}
		text := glyph + vi.Invariant
		if vi.Target != "" {
			text += " " + vi.Target
		}
		if vi.Message != "" {
			text += ": " + vi.Message
		}
		lines = append(lines, styledLine{{text, st}})
	}
	nameW, roleW, addrW := 4, 0, 0
	for _, n := range h.Nodes {
		nameW = max(nameW, uniseg.StringWidth(n.Label()))
		roleW = max(roleW, uniseg.StringWidth(n.Role))
		addrW = max(addrW, uniseg.StringWidth(n.Address))
	}
	nameW, roleW, addrW = min(nameW, 18), min(roleW, 10), min(addrW, 22)
	for i, n := range h.Nodes {
		if rows > 0 && len(lines) == rows-1 && i < len(h.Nodes)-1 {
			lines = append(lines, styledLine{{hiddenNodes(h.Nodes[i:]), th.warn()}})
			break
		}
		glyph, st := th.nodeGlyph(n.State)
		lines = append(lines, styledLine{
			{string(glyph) + " ", st},
			{padName(n.Label(), nameW) + " ", th.base()},
			{pad(n.State.String(), 9), st},
			{pad(n.Role, roleW) + " " + pad(n.Address, addrW) + " " + n.Detail, th.dim()},
		})
	}
	return lines
}

// clusterNeed is how many rows clusterContent would fill given room.
func clusterNeed(h *subject.Health) int {
	if h == nil {
		return 1
	}
	n := len(h.Violations) + len(h.Nodes)
	if h.Error != "" {
		n++
	}
	if h.Note != "" {
		n++
	}
	return n
}

// hiddenNodes summarises nodes left out of the panel.
func hiddenNodes(nodes []subject.Node) string {
	notUp := 0
	for _, n := range nodes {
		if n.State != subject.Up {
			notUp++
		}
	}
	s := fmt.Sprintf("… %d more nodes", len(nodes))
	if notUp > 0 {
		s += fmt.Sprintf(", %d of them not UP", notUp)
	}
	return s
}

// narrationContent is the chapter's title and the lines under it: the
// narration, countdown, action status and expectations.
func narrationContent(th theme, snap *runner.Snapshot, v *view, now time.Time, width int) (string, []styledLine) {
	cur := snap.Current
	if cur == nil {
		return "demo", []styledLine{{{"The demo starts once the subject is set up.", th.dim()}}}
	}
	lines := append([]styledLine(nil), v.narrationLines(cur.Narration, width)...)
	lines = append(lines, nil)
	if cur.CountdownUntil.After(now) {
		lines = append(lines, styledLine{{fmt.Sprintf("⏳ chaos in %ds", secondsLeft(now, cur.CountdownUntil)), th.warn().Bold(true)}})
	}
	if cur.SteadyWait {
		lines = append(lines, styledLine{{"⏳ the fault waits for the steady state", th.warn().Bold(true)}})
	}
	if cur.ActionRunning {
		lines = append(lines, styledLine{{"▶ action running…", th.warn()}})
	}
	if cur.Skip != "" {
		for _, l := range wrap(plainCells("– skipped here: "+cur.Skip, th.warn()), width) {
			lines = append(lines, segments(l))
		}
	}
	if cur.Error != "" {
		for _, l := range wrap(plainCells("✗ chapter failed: "+cur.Error, th.bad()), width) {
			lines = append(lines, segments(l))
		}
	}
	for _, e := range cur.Expectations {
		text, st := expectationLine(th, e, now)
		for _, l := range wrap(plainCells(text, st), width) {
			lines = append(lines, segments(l))
		}
	}
	// The action's status lines come last: on a small screen the
	// expectations, which say whether the chapter passes, stay in view.
	status := cur.Status
	if len(status) > 4 {
		status = status[len(status)-4:]
	}
	for _, s := range status {
		lines = append(lines, styledLine{{"  " + s.Message, severityStyle(th, s.Severity)}})
	}
	title := cur.Title
	if i := snap.Index; i >= 0 && i < len(snap.Chapters) && snap.Chapters[i].Status != "" {
		title += " · " + snap.Chapters[i].Status
	}
	return title, lines
}

// expectationLine is one expectation as shown: a glyph for its state, its
// description (which says its mode), and the time left or what broke it.
func expectationLine(th theme, e runner.ExpectationView, now time.Time) (string, tcell.Style) {
	switch {
	case e.State == runner.Met:
		return "✓ " + e.Description, th.good()
	case e.State == runner.TimedOut:
		return "✗ " + e.Description + " (" + e.Reason + ")", th.bad()
	case e.State == runner.Broken:
		return "✗ " + e.Description + " (" + e.Reason + ")", th.bad()
	case e.State == runner.NotChecked:
		return "– " + e.Description + " (" + e.Reason + ")", th.dim()
	case !e.Armed && e.Mode == subject.After:
		return "○ " + e.Description + " · waits for the revert", th.warn()
	case !e.Armed:
		return "○ " + e.Description + " · waits for the fault", th.warn()
	case e.Deadline.IsZero(): // a hold lasting while the fault is active
		return "◔ " + e.Description + " · holding", th.warn()
	case e.Mode == subject.Holds:
		return fmt.Sprintf("◔ %s · holding, %ds to go", e.Description, secondsLeft(now, e.Deadline)), th.warn()
	default:
		return fmt.Sprintf("○ %s · %ds left", e.Description, secondsLeft(now, e.Deadline)), th.warn()
	}
}

func severityStyle(th theme, sev subject.Severity) tcell.Style {
	switch sev {
	case subject.Critical:
		return th.bad()
	case subject.Warning:
		return th.warn()
	}
	return th.dim()
}

const sparks = "▁▂▃▄▅▆▇█"

// sparkline draws the last width values scaled from min(0, lowest) to the
// highest, so a drop from 3 to 2 does not look like a drop to nothing.
func sparkline(values []float64, width int) string {
	if width <= 0 || len(values) == 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	lo, hi := min(values[0], 0), values[0]
	for _, x := range values {
		lo, hi = min(lo, x), max(hi, x)
	}
	levels := []rune(sparks)
	var b strings.Builder
	for _, x := range values {
		i := 0
		if hi > lo {
			i = int((x - lo) / (hi - lo) * float64(len(levels)-1))
		}
		b.WriteRune(levels[clamp(i, 0, len(levels)-1)])
	}
	return b.String()
}

// drawMetrics shows each metric's latest value and a sparkline: gauges and
// rates as they are, counters as their rate per second (the total beside).
func drawMetrics(c canvas, h *subject.Health, v *view, in rect) {
	if h == nil || in.h <= 0 {
		return
	}
	nameW := 4
	for _, m := range h.Metrics {
		nameW = max(nameW, uniseg.StringWidth(m.Name))
	}
	for _, k := range h.Counters {
		nameW = max(nameW, uniseg.StringWidth(k.Key))
	}
	nameW = min(nameW, in.w/3)
	y := in.y
	for _, m := range h.Metrics {
		if y >= in.y+in.h {
			return
		}
		shown, unit := m.Value, m.Unit
		if m.Kind == subject.MetricCounter {
			shown, unit = v.rate(m.Name), strings.TrimSpace(m.Unit+"/s")
		}
		value := pad(strings.TrimSpace(formatValue(shown)+" "+unit), 12)
		x := in.x + c.text(in.x, y, in.w, padName(m.Name, nameW)+" ", c.th.base())
		x += c.text(x, y, in.x+in.w-x, value+" ", c.th.base().Bold(true))
		if m.Kind == subject.MetricCounter {
			x += c.text(x, y, in.x+in.w-x, pad("Σ "+formatValue(m.Value), 9)+" ", c.th.dim())
		}
		c.text(x, y, in.x+in.w-x, sparkline(v.history[m.Name], in.x+in.w-x), c.th.fg(tcell.StyleDefault, tcell.ColorAqua))
		y++
	}
	for _, k := range h.Counters {
		if y >= in.y+in.h {
			return
		}
		over := k.Limit > 0 && k.Count > k.Limit
		st := c.th.good()
		if over {
			st = c.th.bad()
		}
		label := fmt.Sprintf(" %d/%d", k.Count, k.Limit)
		if k.Limit == 0 {
			label = fmt.Sprintf(" %d", k.Count)
		}
		if over {
			label += " over limit"
		}
		x := in.x + c.text(in.x, y, in.w, padName(k.Key, nameW)+" ", c.th.base())
		barW := max(0, in.x+in.w-x-uniseg.StringWidth(label))
		if k.Limit == 0 {
			barW = 0 // no limit: the count alone
		}
		x += c.text(x, y, barW, counterBar(k.Count, k.Limit, barW), st)
		c.text(x, y, in.x+in.w-x, label, st)
		y++
	}
}

func formatValue(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// counterBar is count/limit as a bar of width columns (full when over).
func counterBar(count, limit int64, width int) string {
	if width <= 0 {
		return ""
	}
	filled := width
	if limit > 0 && count < limit {
		filled = int(count * int64(width) / limit)
	}
	filled = clamp(filled, 0, width)
	return strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
}

func drawEvents(c canvas, events []runner.Event, in rect) {
	if in.h <= 0 {
		return
	}
	if len(events) > in.h {
		events = events[len(events)-in.h:]
	}
	for i, e := range events {
		y := in.y + i
		x := in.x + c.text(in.x, y, in.w, e.At.Format("15:04:05")+" ", c.th.dim())
		st := eventStyle(c.th, e)
		x += c.text(x, y, in.x+in.w-x, pad(e.Kind, 11)+" ", st)
		c.textEllipsis(x, y, in.x+in.w-x, e.Message, st)
	}
}

func eventStyle(th theme, e runner.Event) tcell.Style {
	switch e.Severity {
	case subject.Critical:
		return th.bad()
	case subject.Warning:
		return th.warn()
	}
	switch e.Kind {
	case journal.KindChaos, journal.KindViolation, journal.KindError:
		return th.bad()
	case journal.KindRevert, journal.KindCleared:
		return th.good()
	case journal.KindExpect, journal.KindChapter:
		return th.base().Bold(true)
	default:
		return th.base()
	}
}

func drawWatches(c canvas, watches []watchPanel, area rect) {
	w := area.w / len(watches)
	for i, wp := range watches {
		r := rect{area.x + i*w, area.y, w, area.h}
		if i == len(watches)-1 {
			r.w = area.w - i*w
		}
		title, st := wp.name, c.th.border()
		if done, how := wp.src.Exited(); done {
			title += " · exited"
			if how != "" {
				title += " (" + how + ")"
				st = c.th.bad()
			}
		}
		in := c.box(r, title, st)
		lines := wp.src.Lines()
		if len(lines) > in.h {
			lines = lines[len(lines)-in.h:]
		}
		for j, l := range lines {
			c.text(in.x, in.y+j, in.w, l, c.th.base())
		}
	}
}

func drawHelp(c canvas, rows []keyAction, w, h int) {
	lines := helpLines(rows)
	bw, bh := 64, len(lines)+4
	r := rect{(w - bw) / 2, (h - bh) / 2, bw, bh}
	c.fill(r, c.th.base())
	in := c.box(r, "help", c.th.base().Bold(true))
	for i, l := range lines {
		c.text(in.x+1, in.y+1+i, in.w-2, l, c.th.base())
	}
}

func clamp(v, lo, hi int) int {
	if hi < lo {
		hi = lo
	}
	return min(max(v, lo), hi)
}

// Package report renders a run's journal for people and CI systems: an
// SVG timeline and JUnit XML. Renderers are pure: the same journal always
// gives byte-identical output.
package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/demohost/demohost/host/journal"
)

// Colours, shared by lanes and the legend.
var stateColour = map[string]string{
	"UP": "#2e9d4f", "DOWN": "#d62f2f", "PAUSED": "#f2c12e", "DEGRADED": "#f08c2e", "UNKNOWN": "#9e9e9e",
}

var states = []string{"UP", "DOWN", "PAUSED", "DEGRADED", "UNKNOWN"}

var statusColour = map[string]string{journal.Passed: "#2e9d4f", journal.Failed: "#d62f2f", journal.Skipped: "#bdbdbd"}

var severityColour = map[string]string{"critical": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}

const (
	chaosColour   = "#6a3d9a"
	warnColour    = "#e65100"
	inkColour     = "#263238"
	mutedColour   = "#78909c"
	gridColour    = "#e3e7ea"
	width         = 1280.0
	leftMargin    = 170.0 // lane labels
	rightMargin   = 30.0
	laneHeight    = 18.0
	laneGap       = 5.0
	violationRow  = 14.0
	metricHeight  = 46.0
	metricGap     = 14.0
	labelRows     = 3 // chapter title rows
	chaosRows     = 2 // fault label rows
	maxMetrics    = 6
	maxViolations = 10  // invariant rows; the rest share one
	maxLanes      = 100 // node lanes; the rest are counted in a note
	maxListed     = 12  // lines in the faults and failed-chapter lists
	lineHeight    = 16.0
)

// WriteTimeline renders j as one self-contained SVG: a lane per node
// coloured by state, faults shaded and labelled, violations from raised
// to cleared, chapter boundaries with titles, key metrics as small line
// charts, and beneath them what each fault did.
func WriteTimeline(w io.Writer, j *journal.Journal) error {
	j, err := canonical(j)
	if err != nil {
		return err
	}
	start, end := j.Span()
	if start.IsZero() {
		return errors.New("the journal has no timestamps (is it a demohost --report journal?)")
	}
	if !j.StartedAt.IsZero() {
		start = j.StartedAt
	}
	t := &timeline{j: j, scale: newTimeScale(start, end, leftMargin, width-leftMargin-rightMargin)}
	t.layout()
	t.draw()
	if _, err := w.Write(t.doc.b.Bytes()); err != nil {
		return fmt.Errorf("write timeline: %w", err)
	}
	return nil
}

// timeline is one rendering: the layout's y positions, then the markup.
type timeline struct {
	j     *journal.Journal
	scale timeScale
	doc   svgDoc

	nodes      []string                            // lanes, at most maxLanes
	hidden     int                                 // nodes without a lane
	history    map[string][]journal.NodeTransition // per node, in journal order
	invariants []string                            // one row each; "" is the shared "other" row
	metrics    []journal.MetricSeries
	faults     []listLine // what each fault did, under the chart
	failed     []listLine
	titleRows  int // chapter title rows in use

	yChapters, yPlot, yChaos, yLanes, yViolations, yAxis, yMetrics, yBottomAxis, yFaults, yFailed, height float64
}

func (t *timeline) layout() {
	t.nodes = journal.NodeNames(t.j)
	if len(t.nodes) > maxLanes {
		t.nodes, t.hidden = t.nodes[:maxLanes], len(t.nodes)-maxLanes
	}
	t.history = map[string][]journal.NodeTransition{}
	for _, tr := range t.j.Nodes {
		t.history[tr.Node] = append(t.history[tr.Node], tr)
	}
	t.invariants = invariantRows(t.j)
	t.metrics = keyMetrics(t.j)
	t.faults = wrapLines(t.faultLines(), warnColour)
	t.failed = wrapLines(t.failedLines(), "")
	t.titleRows = t.placeChapterTitles(nil)

	t.yChapters = 96
	t.yPlot = t.yChapters + float64(t.titleRows)*14 + 2
	t.yChaos = t.yPlot + 6
	t.yLanes = t.yChaos + chaosRows*13 + 18
	t.yViolations = t.yLanes + float64(len(t.nodes))*(laneHeight+laneGap) + 6
	if t.hidden > 0 {
		t.yViolations += 16 // the "+N more nodes" note
	}
	t.yAxis = t.yViolations + float64(len(t.invariants))*violationRow + 4
	if len(t.invariants) > 0 {
		t.yAxis += 14
	}
	t.yMetrics = t.yAxis + 24
	t.yBottomAxis = t.yMetrics + float64(len(t.metrics))*(metricHeight+metricGap)
	t.yFaults = t.yBottomAxis + 34
	if len(t.j.Metrics) > len(t.metrics) {
		t.yFaults += 16 // the "+N more metrics" note
	}
	t.yFailed = t.yFaults + float64(max(len(t.faults), 1)+1)*lineHeight + 12
	t.height = t.yFailed + 12
	if len(t.failed) > 0 {
		t.height += float64(len(t.failed)+1) * lineHeight
	}
}

func (t *timeline) draw() {
	d := &t.doc
	d.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	d.open("svg", "xmlns", "http://www.w3.org/2000/svg", "width", num(width), "height", num(t.height),
		"viewBox", "0 0 "+num(width)+" "+num(t.height), "font-family", "DejaVu Sans, Helvetica, Arial, sans-serif", "font-size", "11")
	d.raw(`<defs><pattern id="fault-hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
		`<rect width="8" height="8" fill="` + chaosColour + `" fill-opacity="0.10"/>` +
		`<line x1="0" y1="0" x2="0" y2="8" stroke="` + chaosColour + `" stroke-opacity="0.35" stroke-width="3"/></pattern></defs>` + "\n")
	d.raw("<title>" + esc(t.docTitle()) + "</title>\n")
	d.el("rect", "width", num(width), "height", num(t.height), "fill", "#ffffff")
	t.drawTitle()
	t.drawLegend()
	t.drawChapters()
	t.drawGrid()
	t.drawChaos()
	t.drawLanes()
	t.drawViolations()
	t.drawAxis(t.yAxis)
	t.drawMetrics()
	if len(t.metrics) > 0 {
		t.drawAxis(t.yBottomAxis)
	}
	t.drawLists()
	d.close("svg")
}

// docTitle names the run, for the SVG's <title> (a browser tab's name).
func (t *timeline) docTitle() string {
	return fmt.Sprintf("demohost %s %s: %s (%s)", t.j.Subject, t.j.SubjectVersion, t.j.Result, t.scale.start.UTC().Format("2006-01-02 15:04 UTC"))
}

func (t *timeline) drawTitle() {
	j, d := t.j, &t.doc
	result := strings.ToUpper(j.Result)
	if result == "" {
		result = "UNFINISHED"
	}
	colour := statusColour[j.Result]
	if colour == "" {
		colour = warnColour
	}
	subject := strings.TrimSpace(j.Subject + " " + j.SubjectVersion)
	d.open("g", "id", "title")
	d.raw(`<text x="20" y="30" font-size="20" font-weight="bold" fill="` + inkColour + `">` + esc("demohost · "+subject+"  ") +
		`<tspan id="result" fill="` + colour + `">` + esc(result) + "</tspan></text>\n")

	var passed, failed, skipped int
	for _, c := range j.Chapters {
		switch c.Status {
		case journal.Passed:
			passed++
		case journal.Failed:
			failed++
		default:
			skipped++
		}
	}
	parts := []string{
		"started " + t.scale.start.UTC().Format("2006-01-02 15:04:05 UTC"),
		"ran " + duration(t.scale.end.Sub(t.scale.start)),
		fmt.Sprintf("%d chapters: %d passed, %d failed, %d skipped", len(j.Chapters), passed, failed, skipped),
		fmt.Sprintf("%d faults injected", len(j.Chaos)),
		fmt.Sprintf("%d invariants violated", len(j.ViolationsSeen)),
	}
	if j.Headless {
		parts = append(parts, "headless")
	}
	d.text(strings.Join(parts, "  ·  "), "x", "20", "y", "52", "font-size", "12", "fill", mutedColour)
	d.close("g")
}

func (t *timeline) drawLegend() {
	d := &t.doc
	x, y := 20.0, 68.0
	d.open("g", "id", "legend")
	for _, st := range states {
		d.el("rect", "x", num(x), "y", num(y), "width", "14", "height", "10", "fill", stateColour[st])
		d.text(st, "x", num(x+18), "y", num(y+9), "fill", inkColour)
		x += 28 + textWidth(st, 11)
	}
	x += 10
	d.el("rect", "x", num(x), "y", num(y-1), "width", "22", "height", "12", "fill", "url(#fault-hatch)", "stroke", chaosColour, "stroke-width", "0.5")
	d.text("fault active", "x", num(x+27), "y", num(y+9), "fill", inkColour)
	x += 40 + textWidth("fault active", 11)
	d.raw(triangle(x+6, y, severityColour["critical"]))
	d.text("violation raised", "x", num(x+16), "y", num(y+9), "fill", inkColour)
	x += 28 + textWidth("violation raised", 11)
	d.el("circle", "cx", num(x+5), "cy", num(y+5), "r", "4", "fill", "#ffffff", "stroke", severityColour["critical"], "stroke-width", "2")
	d.text("cleared", "x", num(x+14), "y", num(y+9), "fill", inkColour)
	x += 30 + textWidth("cleared", 11)
	for _, st := range []string{journal.Passed, journal.Failed} {
		d.el("rect", "x", num(x), "y", num(y+3), "width", "16", "height", "4", "fill", statusColour[st])
		d.text("chapter "+st, "x", num(x+20), "y", num(y+9), "fill", inkColour)
		x += 30 + textWidth("chapter "+st, 11)
	}
	d.close("g")
}

// drawChapters shades alternate chapters, marks their boundaries and
// status, and places their titles.
func (t *timeline) drawChapters() {
	d := &t.doc
	bottom := t.plotBottom()
	d.open("g", "id", "chapters")
	shade := 0
	for _, c := range t.j.Chapters {
		if c.StartedAt == nil {
			continue // skipped: never on the timeline
		}
		x, w := t.chapterSpan(c)
		title := fmt.Sprintf("%d. %s — %s, %s", c.Index+1, c.Title, c.Status, duration(elapsed(c)))
		d.open("g", "class", "chapter chapter-"+c.Status, "id", fmt.Sprintf("chapter-%d", c.Index+1))
		if shade%2 == 1 {
			d.el("rect", "x", num(x), "y", num(t.yPlot), "width", num(w), "height", num(bottom-t.yPlot), "fill", "#f4f6f8")
		}
		shade++
		stripe := statusColour[c.Status]
		if stripe == "" {
			stripe = stateColour["UNKNOWN"] // not finished: the run ended first
		}
		d.titled("rect", title, "x", num(x), "y", num(t.yPlot-5), "width", num(w), "height", "4", "fill", stripe)
		d.el("line", "x1", num(x), "y1", num(t.yChapters-10), "x2", num(x), "y2", num(bottom), "stroke", "#b0bec5", "stroke-width", "0.8")
		d.close("g")
	}
	t.placeChapterTitles(d)
	d.close("g")
}

func (t *timeline) chapterSpan(c journal.Chapter) (x, w float64) {
	to := t.scale.end
	if c.FinishedAt != nil {
		to = *c.FinishedAt
	}
	return t.scale.span(*c.StartedAt, to, 1)
}

func (t *timeline) plotBottom() float64 {
	if len(t.metrics) == 0 {
		return t.yAxis
	}
	return t.yBottomAxis
}

// placeChapterTitles puts "N. Title" at each chapter's start in the first
// of labelRows rows where it does not overlap another title, else just
// "N", else nothing (the chapter's stripe still has a tooltip). It writes
// the titles to d unless d is nil, and returns how many rows it used.
func (t *timeline) placeChapterTitles(d *svgDoc) int {
	labels := newRows(labelRows, 6, width-4)
	used := 1
	// Failed chapters are labelled first: when titles crowd, theirs stay.
	var order []journal.Chapter
	for _, failed := range []bool{true, false} {
		for _, c := range t.j.Chapters {
			if c.StartedAt != nil && (c.Status == journal.Failed) == failed {
				order = append(order, c)
			}
		}
	}
	for _, c := range order {
		x, w := t.chapterSpan(c)
		colour := inkColour
		if c.Status == journal.Failed {
			colour = statusColour[journal.Failed]
		}
		number := fmt.Sprint(c.Index + 1)
		// A title may run past its chapter's end when that space is free.
		full := truncate(number+". "+c.Title, math.Max(w, 0)+120, 11)
		for _, text := range []string{full, number} {
			if row, at := labels.place(x+3, textWidth(text, 11)); row >= 0 {
				used = max(used, row+1)
				if d != nil {
					d.text(text, "class", "chapter-title", "x", num(at), "y", num(t.yChapters+float64(row)*14), "fill", colour)
				}
				break
			}
		}
	}
	return used
}

func (t *timeline) drawGrid() {
	d := &t.doc
	bottom := t.plotBottom()
	d.open("g", "id", "grid")
	for _, off := range t.scale.ticks(70) {
		x := t.scale.x(t.scale.start.Add(off))
		d.el("line", "x1", num(x), "y1", num(t.yPlot), "x2", num(x), "y2", num(bottom), "stroke", gridColour, "stroke-width", "1")
	}
	d.close("g")
}

// drawChaos draws the fault lane (a bar per fault, labelled where there is
// room) and shades each fault's time across the node lanes.
func (t *timeline) drawChaos() {
	d, s := &t.doc, t.scale
	d.text("faults", "class", "lane-label", "x", num(leftMargin-8), "y", num(t.yLanes-8), "text-anchor", "end", "font-weight", "bold", "fill", chaosColour)
	shadeBottom := t.yAxis - 4
	labels := newRows(chaosRows, 6, width-4)
	for i, c := range t.j.Chaos {
		to, open := s.end, c.RevertedAt == nil
		if !open {
			to = *c.RevertedAt
		}
		x, w := s.span(c.InjectedAt, to, 2)
		warn := c.Evidence != nil && c.Evidence.Warning != ""
		d.open("g", "class", "chaos-span", "id", fmt.Sprintf("chaos-%d", i+1))
		d.el("rect", "class", "chaos-shade", "x", num(x), "y", num(t.yLanes-4), "width", num(w), "height", num(shadeBottom-t.yLanes+4), "fill", "url(#fault-hatch)")
		stroke, sw := chaosColour, "0"
		if warn {
			stroke, sw = warnColour, "2"
		}
		tip := fmt.Sprintf("%s at %s: %s", c.Name, clock(c.InjectedAt.Sub(s.start)), faultLine(c))
		if open {
			tip += " (never reverted)"
		}
		d.titled("rect", tip, "class", "chaos-bar", "x", num(x), "y", num(t.yLanes-16), "width", num(w), "height", "10", "fill", chaosColour, "stroke", stroke, "stroke-width", sw)
		label := c.Name
		if warn {
			label = "⚠ " + label
		}
		colour := chaosColour
		if warn {
			colour = warnColour
		}
		if row, at := labels.place(x, textWidth(label, 10)); row >= 0 {
			d.text(label, "class", "chaos-label", "x", num(at), "y", num(t.yChaos+9+float64(row)*13), "font-size", "10", "fill", colour)
		}
		d.close("g")
	}
}

// drawLanes draws one lane per node, a rect per stretch of one state.
func (t *timeline) drawLanes() {
	d, s := &t.doc, t.scale
	for i, node := range t.nodes {
		y := t.yLanes + float64(i)*(laneHeight+laneGap)
		d.open("g", "class", "lane", "id", fmt.Sprintf("lane-%d", i+1))
		d.text(truncate(node, leftMargin-16, 11), "class", "lane-label", "x", num(leftMargin-8), "y", num(y+13), "text-anchor", "end", "fill", inkColour)
		segs := segments(t.history[node], s.end)
		// Healthy stretches first, so that a short fault drawn wider than
		// its time stays on top.
		for _, up := range []bool{true, false} {
			for _, sg := range segs {
				if (sg.state == "UP") != up {
					continue
				}
				minW := 2.0
				if up {
					minW = 0
				}
				x, w := s.span(sg.from, sg.to, minW)
				colour := stateColour[sg.state]
				if colour == "" {
					colour = stateColour["UNKNOWN"]
				}
				tip := fmt.Sprintf("%s %s from %s for %s", node, sg.state, clock(sg.from.Sub(s.start)), duration(sg.to.Sub(sg.from)))
				d.titled("rect", tip, "class", "state state-"+sg.state, "x", num(x), "y", num(y), "width", num(w), "height", num(laneHeight), "fill", colour)
			}
		}
		d.close("g")
	}
	if t.hidden > 0 {
		y := t.yLanes + float64(len(t.nodes))*(laneHeight+laneGap) + 10
		d.text(fmt.Sprintf("+%d more nodes in the JSON journal", t.hidden), "x", num(leftMargin-8), "y", num(y), "text-anchor", "end", "font-size", "10", "fill", mutedColour)
	}
}

type segment struct {
	state    string
	from, to time.Time
}

// segments is a node's state history (its transitions) as stretches,
// merged where a state repeats, the last running to end.
func segments(node []journal.NodeTransition, end time.Time) []segment {
	trs := append([]journal.NodeTransition(nil), node...)
	sort.SliceStable(trs, func(a, b int) bool { return trs[a].At.Before(trs[b].At) })
	var out []segment
	for _, tr := range trs {
		if n := len(out); n > 0 && out[n-1].state == tr.State {
			continue
		}
		if n := len(out); n > 0 {
			out[n-1].to = tr.At
		}
		out = append(out, segment{state: tr.State, from: tr.At, to: end})
	}
	return out
}

// invariantRows lists violated invariants in order of first raise; past
// maxViolations the rest share one row ("").
func invariantRows(j *journal.Journal) []string {
	var rows []string
	seen := map[string]bool{}
	for _, v := range j.Violations {
		if seen[v.Invariant] {
			continue
		}
		seen[v.Invariant] = true
		if len(rows) == maxViolations {
			rows = append(rows, "")
			break
		}
		rows = append(rows, v.Invariant)
	}
	return rows
}

// drawViolations draws a row per invariant: a bar from raised to cleared,
// a triangle where raised and a ring where cleared.
func (t *timeline) drawViolations() {
	if len(t.invariants) == 0 {
		return
	}
	d, s := &t.doc, t.scale
	top := t.yViolations + 10
	d.text("violations", "x", num(leftMargin-8), "y", num(top-2), "text-anchor", "end", "font-weight", "bold", "fill", severityColour["critical"])
	row := map[string]int{}
	for i, inv := range t.invariants {
		row[inv] = i
		name := inv
		if inv == "" {
			name = "other invariants"
		}
		d.text(truncate(name, leftMargin-16, 10), "x", num(leftMargin-8), "y", num(top+float64(i)*violationRow+14), "text-anchor", "end", "font-size", "10", "fill", inkColour)
	}
	for i, v := range t.j.Violations {
		r, ok := row[v.Invariant]
		if !ok {
			r = row[""]
		}
		y := top + float64(r)*violationRow + 10
		colour := severityColour[strings.ToLower(v.Severity)]
		if colour == "" {
			colour = severityColour["critical"]
		}
		to := s.end
		if v.ClearedAt != nil {
			to = *v.ClearedAt
		}
		x, w := s.span(v.RaisedAt, to, 1)
		tip := fmt.Sprintf("%s on %s raised at %s", v.Invariant, v.Target, clock(v.RaisedAt.Sub(s.start)))
		if v.ClearedAt != nil {
			tip += fmt.Sprintf(", cleared after %s", duration(v.ClearedAt.Sub(v.RaisedAt)))
		} else {
			tip += ", never cleared"
		}
		if v.Message != "" {
			tip += ": " + v.Message
		}
		d.open("g", "class", "violation", "id", fmt.Sprintf("violation-%d", i+1))
		d.titled("rect", tip, "x", num(x), "y", num(y-2), "width", num(w), "height", "4", "fill", colour, "fill-opacity", "0.6")
		d.raw(`<path class="violation-raised" d="` + trianglePath(x, y-7) + `" fill="` + colour + `"><title>` + esc(tip) + "</title></path>\n")
		if v.ClearedAt != nil {
			d.el("circle", "class", "violation-cleared", "cx", num(x+w), "cy", num(y), "r", "3.5", "fill", "#ffffff", "stroke", colour, "stroke-width", "1.8")
		}
		d.close("g")
	}
}

func triangle(x, y float64, colour string) string {
	return `<path d="` + trianglePath(x, y) + `" fill="` + colour + `"/>` + "\n"
}

// trianglePath is a downward triangle whose tip is at (x, y+10).
func trianglePath(x, y float64) string {
	return "M" + num(x-5) + " " + num(y) + "H" + num(x+5) + "L" + num(x) + " " + num(y+10) + "Z"
}

// drawAxis writes the time axis at y: a tick and an m:ss label per step.
func (t *timeline) drawAxis(y float64) {
	d, s := &t.doc, t.scale
	d.open("g", "class", "axis")
	d.el("line", "x1", num(s.x0), "y1", num(y), "x2", num(s.x0+s.width), "y2", num(y), "stroke", "#90a4ae", "stroke-width", "1")
	for _, off := range s.ticks(70) {
		x := s.x(s.start.Add(off))
		d.el("line", "x1", num(x), "y1", num(y), "x2", num(x), "y2", num(y+4), "stroke", "#90a4ae")
		d.text(clock(off), "x", num(x), "y", num(y+15), "text-anchor", "middle", "font-size", "10", "fill", mutedColour)
	}
	d.close("g")
}

// drawMetrics draws a small line chart per key metric, downsampled to at
// most two points per pixel column.
func (t *timeline) drawMetrics() {
	d, s := &t.doc, t.scale
	for i, raw := range t.metrics {
		top := t.yMetrics + float64(i)*(metricHeight+metricGap)
		m := journal.Observed(raw)
		lo, hi := valueRange(m.Points)
		d.open("g", "class", "metric", "id", fmt.Sprintf("metric-%d", i+1))
		name := m.Name
		if m.Unit != raw.Unit {
			name += " rate"
		}
		if m.Unit != "" {
			name += " (" + m.Unit + ")"
		}
		d.text(truncate(name, leftMargin-50, 11), "x", "20", "y", num(top+12), "fill", inkColour)
		d.text(value(hi), "x", num(leftMargin-8), "y", num(top+9), "text-anchor", "end", "font-size", "9", "fill", mutedColour)
		d.text(value(lo), "x", num(leftMargin-8), "y", num(top+metricHeight), "text-anchor", "end", "font-size", "9", "fill", mutedColour)
		d.el("rect", "x", num(s.x0), "y", num(top), "width", num(s.width), "height", num(metricHeight), "fill", "none", "stroke", gridColour)
		if path := metricPath(m.Points, s, top, lo, hi); path != "" {
			d.el("path", "d", path, "fill", "none", "stroke", "#1e88e5", "stroke-width", "1.3", "stroke-linejoin", "round")
		}
		d.close("g")
	}
	if extra := len(t.j.Metrics) - len(t.metrics); extra > 0 {
		d.text(fmt.Sprintf("+%d more metrics in the JSON journal", extra), "x", "20", "y", num(t.yBottomAxis+28), "font-size", "10", "fill", mutedColour)
	}
}

// keyMetrics picks the metrics to chart: those in which a fault showed
// first, then the others, maxMetrics at most, in the journal's order.
func keyMetrics(j *journal.Journal) []journal.MetricSeries {
	moved := map[string]bool{}
	for _, c := range j.Chaos {
		if c.Evidence != nil {
			for _, m := range c.Evidence.During.Metrics {
				moved[m.Name] = true
			}
		}
	}
	chosen := map[string]bool{}
	for _, first := range []bool{true, false} {
		for _, m := range j.Metrics {
			if moved[m.Name] == first && len(chosen) < maxMetrics {
				chosen[m.Name] = true
			}
		}
	}
	var out []journal.MetricSeries
	for _, m := range j.Metrics {
		if chosen[m.Name] {
			out = append(out, m)
		}
	}
	return out
}

func valueRange(pts []journal.Point) (lo, hi float64) {
	lo, hi = 0, 0
	for i, p := range pts {
		if i == 0 || p.Value < lo {
			lo = p.Value
		}
		if i == 0 || p.Value > hi {
			hi = p.Value
		}
	}
	if lo > 0 {
		lo = 0
	}
	if hi <= lo {
		hi = lo + 1
	}
	return lo, hi
}

// metricPath is the chart's path, drawn as steps (a sample holds until
// the next one): per pixel column, the lowest and the highest sample in
// their time order, so a spike survives downsampling. A gap of more than
// ten sampling intervals breaks the line.
func metricPath(pts []journal.Point, s timeScale, top, lo, hi float64) string {
	if len(pts) == 0 {
		return ""
	}
	y := func(v float64) float64 { return top + metricHeight - (v-lo)/(hi-lo)*(metricHeight-4) - 2 }
	type column struct {
		x        float64
		min, max journal.Point
	}
	var cols []column
	for _, p := range pts {
		x := math.Round(s.x(p.At))
		if n := len(cols); n > 0 && cols[n-1].x == x {
			c := &cols[n-1]
			if p.Value < c.min.Value {
				c.min = p
			}
			if p.Value > c.max.Value {
				c.max = p
			}
			continue
		}
		cols = append(cols, column{x: x, min: p, max: p})
	}
	gap := 10 * s.end.Sub(s.start) / time.Duration(len(pts)+1)
	gap = max(gap, 10*time.Second)
	var b strings.Builder
	var last time.Time
	for _, c := range cols {
		a, z := c.min, c.max
		if z.At.Before(a.At) {
			a, z = z, a
		}
		if last.IsZero() || a.At.Sub(last) > gap {
			b.WriteString("M" + num(c.x) + " " + num(y(a.Value)))
		} else {
			b.WriteString("H" + num(c.x) + "V" + num(y(a.Value)))
		}
		if z.Value != a.Value {
			b.WriteString("V" + num(y(z.Value)))
		}
		last = z.At
	}
	return b.String()
}

// faultLines are the lines of the "what each fault did" list: every
// fault when there are few; else a summary, then the ones with warnings.
func (t *timeline) faultLines() []string {
	var all, warned []string
	for _, c := range t.j.Chaos {
		line := clock(c.InjectedAt.Sub(t.scale.start)) + "  " + faultLine(c)
		all = append(all, line)
		if c.Evidence != nil && c.Evidence.Warning != "" {
			warned = append(warned, line)
		}
	}
	if len(all) <= maxListed {
		return all
	}
	out := []string{fmt.Sprintf("%d faults: %d landed and recovered, %d with a warning (listed below); hover a fault's bar for its evidence",
		len(all), len(all)-len(warned), len(warned))}
	if len(warned) > maxListed-1 {
		out = append(out, warned[:maxListed-2]...)
		return append(out, fmt.Sprintf("… and %d more with a warning, see the JSON journal", len(warned)-(maxListed-2)))
	}
	return append(out, warned...)
}

func (t *timeline) failedLines() []string {
	var out []string
	for _, c := range t.j.Chapters {
		if c.Status != journal.Failed {
			continue
		}
		at := ""
		if c.StartedAt != nil {
			at = " at " + clock(c.StartedAt.Sub(t.scale.start))
		}
		out = append(out, fmt.Sprintf("%d. %s%s: %s", c.Index+1, c.Title, at, strings.Join(unmet(c), "; ")))
	}
	if len(out) > maxListed {
		out = append(out[:maxListed-1], fmt.Sprintf("… and %d more failed chapters, see the JUnit or JSON report", len(out)-(maxListed-1)))
	}
	return out
}

// listLine is one line of text under the chart.
type listLine struct {
	text, colour string
	indent       float64
}

// wrapLines wraps each line to the page width (three lines at most);
// lines holding a WARNING take warn as their colour when it is set.
func wrapLines(lines []string, warn string) []listLine {
	var out []listLine
	for _, line := range lines {
		colour := inkColour
		if warn != "" && strings.Contains(line, "WARNING") {
			colour = warn
		}
		for i, part := range wrap(line, width-80, 11, 3) {
			l := listLine{text: part, colour: colour}
			if i > 0 {
				l.indent = 40
			}
			out = append(out, l)
		}
	}
	return out
}

// wrap breaks s at spaces into lines of at most width pixels at size px,
// keeping at most maxLines (the last one truncated).
func wrap(s string, width, size float64, maxLines int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && textWidth(line+" "+word, size) > width {
			lines = append(lines, line)
			line = word
			continue
		}
		line = strings.TrimSpace(line + " " + word)
	}
	lines = append(lines, line)
	if len(lines) > maxLines {
		lines = lines[:maxLines]
		lines[maxLines-1] = truncate(lines[maxLines-1]+" …", width, size)
	}
	return lines
}

func (t *timeline) drawLists() {
	d := &t.doc
	d.open("g", "id", "faults")
	d.text("What each fault did", "x", "20", "y", num(t.yFaults), "font-size", "13", "font-weight", "bold", "fill", inkColour)
	if len(t.faults) == 0 {
		d.text("no fault was injected", "x", "20", "y", num(t.yFaults+lineHeight), "fill", mutedColour)
	}
	t.drawList(t.faults, t.yFaults)
	d.close("g")
	if len(t.failed) == 0 {
		return
	}
	d.open("g", "id", "failed")
	d.text("Failed chapters", "x", "20", "y", num(t.yFailed), "font-size", "13", "font-weight", "bold", "fill", statusColour[journal.Failed])
	t.drawList(t.failed, t.yFailed)
	d.close("g")
}

func (t *timeline) drawList(lines []listLine, top float64) {
	for i, l := range lines {
		t.doc.text(l.text, "x", num(20+l.indent), "y", num(top+float64(i+1)*lineHeight), "fill", l.colour)
	}
}

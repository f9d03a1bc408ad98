package report

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// timeScale maps run time to x pixels.
type timeScale struct {
	start, end time.Time
	x0, width  float64
}

func (s timeScale) x(t time.Time) float64 {
	total := s.end.Sub(s.start)
	if total <= 0 {
		return s.x0
	}
	f := float64(t.Sub(s.start)) / float64(total)
	return s.x0 + min(max(f, 0), 1)*s.width
}

// span returns the x and width of [from, to], at least minWidth wide so
// that a short state or fault stays visible on a long run.
func (s timeScale) span(from, to time.Time, minWidth float64) (x, w float64) {
	x, w = s.x(from), s.x(to)-s.x(from)
	if w < minWidth {
		w = minWidth
		if x+w > s.x0+s.width {
			x = s.x0 + s.width - w
		}
	}
	return x, w
}

// tickSteps are the spacings a time axis may use, smallest first; past
// the last, whole multiples of it.
var tickSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// maxSpan bounds the time a timeline shows: a journal whose times run
// further (a hand-edited finished_at in year 9999) is drawn over its first
// maxSpan, what lies beyond at the right edge.
const maxSpan = 31 * 24 * time.Hour

// newTimeScale maps [start, end] (clamped to maxSpan) onto width pixels
// from x0.
func newTimeScale(start, end time.Time, x0, width float64) timeScale {
	if end.Before(start) {
		end = start
	}
	if end.Sub(start) > maxSpan {
		end = start.Add(maxSpan)
	}
	return timeScale{start: start, end: end, x0: x0, width: width}
}

// ticks returns the offsets from the start at which to draw labelled
// ticks: the smallest nice step that keeps labels minGap pixels apart.
// There are never more than width/minGap+1 of them.
func (s timeScale) ticks(minGap float64) []time.Duration {
	total := s.end.Sub(s.start)
	if total <= 0 {
		return []time.Duration{0}
	}
	most := int64(max(s.width/max(minGap, 1), 1)) // labels that fit
	step := time.Duration(0)
	for _, st := range tickSteps {
		if float64(st)/float64(total)*s.width >= minGap {
			step = st
			break
		}
	}
	if step == 0 { // longer than the steps: whole days, as many as fit
		day := tickSteps[len(tickSteps)-1]
		step = day * time.Duration(int64(total/day)/most+1)
	}
	n := int64(total / step)
	out := make([]time.Duration, 0, n+1)
	for i := int64(0); i <= n; i++ {
		out = append(out, time.Duration(i)*step)
	}
	return out
}

// clock formats an offset into the run: m:ss, or h:mm:ss from an hour.
func clock(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, sec := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, sec)
	}
	return fmt.Sprintf("%d:%02d", m, sec)
}

// duration formats a length for people: 850ms, 3.2s, 1m05s, 1h02m.
func duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// rows places labels in a few rows so that none overlaps another or runs
// past the right edge: each label goes in the first row where it fits.
// Labels may be placed in any order (important ones first). Each row keeps
// its labels' spans sorted, so placing one is a binary search.
type rows struct {
	taken [][][2]float64 // per row: the spans of its labels, by position
	gap   float64
	right float64 // no label ends past this
}

func newRows(n int, gap, right float64) *rows {
	return &rows{taken: make([][][2]float64, n), gap: gap, right: right}
}

// place returns the row and x for a label of width w that wants to start
// at x (moved left to end at the right edge), or row -1 when no row has
// room.
func (r *rows) place(x, w float64) (row int, at float64) {
	if x+w > r.right {
		x = r.right - w
	}
	for i, spans := range r.taken {
		// The first span that ends (with the gap) after x starts: the only
		// one that may overlap, as the spans of a row do not overlap.
		k := sort.Search(len(spans), func(k int) bool { return spans[k][1]+r.gap > x })
		if k < len(spans) && spans[k][0] < x+w+r.gap {
			continue
		}
		r.taken[i] = slices.Insert(spans, k, [2]float64{x, x + w})
		return i, x
	}
	return -1, x
}

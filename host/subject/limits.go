package subject

import (
	"fmt"
	"unicode/utf8"
)

// What the host keeps of what a plugin sends: a plugin may send anything
// (a 10 MB narration, 50,000 nodes), and the host must stay responsive
// (docs/ARCHITECTURE.md, "Chaos safety"). Past these, the host keeps the
// start and says so where it shows the rest: a note at the end of a cut
// narration, "…" at the end of a cut string, Health.Note for what a
// snapshot lost.
const (
	MaxNarration = 64 << 10 // bytes of a chapter's narration
	MaxText      = 4 << 10  // bytes of any other text (titles, lines, details, errors)
	MaxName      = 256      // bytes of a name or id (nodes, metrics, invariants)
	MaxNodes     = 2000     // nodes of a snapshot
	MaxSeries    = 500      // metrics, counters and violations of a snapshot, each
)

// Cut cuts s to at most n bytes, on a character boundary, ending it with
// "…" when it cut. The same s always gives the same result, so ids cut
// alike still match.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	end := max(n-len("…"), 0)
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + "…"
}

// CutMiddle is Cut for errors: it keeps the start and the end (where a
// message says what to do), and cuts out the middle.
func CutMiddle(s string, n int) string {
	if len(s) <= n {
		return s
	}
	head := max((n-len("…"))*2/3, 0)
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	tail := len(s) - max(n-len("…")-head, 0)
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return s[:head] + "…" + s[tail:]
}

// LimitChapter cuts what a chapter shows: its narration to MaxNarration
// (with a note saying how much was left out), its title, key hint, fault
// name and description and expectation descriptions to MaxText, and the
// ids its checks name to MaxName, as LimitHealth cuts them in snapshots.
// What goes back to the plugin (the fault's kind, target and parameters)
// is left as it is.
func LimitChapter(c Chapter) Chapter {
	if len(c.Narration) > MaxNarration {
		c.Narration = Cut(c.Narration, MaxNarration) + fmt.Sprintf("\n\n_(demohost shows the first %d KiB of this narration, of %d KiB)_",
			MaxNarration>>10, (len(c.Narration)+1023)>>10)
	}
	c.Title, c.KeyHint = Cut(c.Title, MaxText), Cut(c.KeyHint, MaxText)
	if c.Fault != nil {
		f := *c.Fault
		f.Name, f.Description = Cut(f.Name, MaxText), Cut(f.Description, MaxText)
		c.Fault = &f
	}
	if c.Expectations != nil {
		es := make([]Expectation, len(c.Expectations))
		for i, e := range c.Expectations {
			e.Description = Cut(e.Description, MaxText)
			e.Check.Invariant, e.Check.Target = Cut(e.Check.Invariant, MaxName), Cut(e.Check.Target, MaxName)
			es[i] = e
		}
		c.Expectations = es
	}
	return c
}

// LimitHealth cuts a snapshot to what the host keeps: MaxNodes nodes and
// MaxSeries metrics, counters and violations, names and ids to MaxName
// and other text to MaxText. Note says what was left out.
func LimitHealth(h Health) Health {
	var notes []string
	h.Nodes = keep(h.Nodes, MaxNodes, "nodes", &notes)
	h.Metrics = keep(h.Metrics, MaxSeries, "metrics", &notes)
	h.Counters = keep(h.Counters, MaxSeries, "counters", &notes)
	h.Violations = keep(h.Violations, MaxSeries, "violations", &notes)
	if len(notes) > 0 {
		h.Note = fmt.Sprintf("the plugin sent %s: demohost keeps the first %d nodes and %d of the others", join(notes), MaxNodes, MaxSeries)
	}
	for i := range h.Nodes {
		n := &h.Nodes[i]
		n.ID, n.Name, n.Role, n.Address = Cut(n.ID, MaxName), Cut(n.Name, MaxName), Cut(n.Role, MaxName), Cut(n.Address, MaxName)
		n.Detail = Cut(n.Detail, MaxText)
	}
	for i := range h.Metrics {
		h.Metrics[i].Name, h.Metrics[i].Unit = Cut(h.Metrics[i].Name, MaxName), Cut(h.Metrics[i].Unit, MaxName)
	}
	for i := range h.Counters {
		h.Counters[i].Key = Cut(h.Counters[i].Key, MaxName)
	}
	for i := range h.Violations {
		v := &h.Violations[i]
		v.Invariant, v.Target, v.Message = Cut(v.Invariant, MaxName), Cut(v.Target, MaxName), Cut(v.Message, MaxText)
	}
	h.Error = Cut(h.Error, MaxText)
	return h
}

// keep is s cut to its first most elements; a cut is noted ("3000 nodes").
func keep[T any](s []T, most int, what string, notes *[]string) []T {
	if len(s) <= most {
		return s
	}
	*notes = append(*notes, fmt.Sprintf("%d %s", len(s), what))
	return s[:most]
}

func join(parts []string) string {
	switch len(parts) {
	case 1:
		return parts[0]
	case 2:
		return parts[0] + " and " + parts[1]
	}
	s := ""
	for i, p := range parts {
		switch {
		case i == len(parts)-1:
			s += ", and " + p
		case i > 0:
			s += ", " + p
		default:
			s = p
		}
	}
	return s
}

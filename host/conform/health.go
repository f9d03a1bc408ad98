package conform

import (
	"fmt"
	"sort"
	"strings"

	"github.com/demohost/demohost/host/subject"
)

// baseline is the subject's steady health, against which conform judges
// a fault's effect and the recovery from it. Only what a fault is expected
// to change counts: node states, the number of nodes, violations, counters
// reaching their limit, and the error; metrics move all the time and are
// left out.
type baseline struct {
	nodes      map[string]subject.NodeState // by node key
	count      int
	violations map[string]bool // invariants present
	full       map[string]bool // counters at their limit
}

func baselineOf(h subject.Health) baseline {
	b := baseline{nodes: map[string]subject.NodeState{}, count: len(h.Nodes), violations: map[string]bool{}, full: map[string]bool{}}
	for _, n := range h.Nodes {
		b.nodes[n.Key()] = n.State
	}
	for _, v := range h.Violations {
		b.violations[v.Invariant] = true
	}
	for _, c := range h.Counters {
		if atLimit(c) {
			b.full[c.Key] = true
		}
	}
	return b
}

// atLimit says whether a counter with a limit has reached it.
func atLimit(c subject.Counter) bool { return c.Limit > 0 && c.Count >= c.Limit }

// steady says whether h is a health worth judging faults against: observed,
// with every node UP and no violation above Info.
func steady(h subject.Health) bool {
	if h.Error != "" {
		return false
	}
	for _, n := range h.Nodes {
		if n.State != subject.Up {
			return false
		}
	}
	for _, v := range h.Violations {
		if v.Severity > subject.Info {
			return false
		}
	}
	return true
}

// effect lists, for people, how h differs from the baseline: nodes in
// another state, fewer nodes, violations of invariants the baseline did not
// have, an error, and — when target names one — the counter of that key
// reaching its limit (other counters fill up with ordinary traffic). It is
// what a fault shows.
func (b baseline) effect(h subject.Health, target string) []string { return b.diff(h, target, true) }

// harm is effect without violations of Info severity: what must be gone
// for health to count as recovered. An Info violation may say what a fault
// changed for good ("the leader moved") without anything being wrong.
func (b baseline) harm(h subject.Health, target string) []string { return b.diff(h, target, false) }

func (b baseline) diff(h subject.Health, target string, info bool) []string {
	var out []string
	if h.Error != "" {
		out = append(out, "health error: "+h.Error)
	}
	for _, n := range h.Nodes {
		if was, ok := b.nodes[n.Key()]; ok && was != n.State {
			out = append(out, fmt.Sprintf("%s %s", n.Label(), n.State))
		}
	}
	if h.Error == "" && len(h.Nodes) < b.count {
		out = append(out, fmt.Sprintf("%d of %d nodes reported", len(h.Nodes), b.count))
	}
	seen := map[string]bool{}
	for _, v := range h.Violations {
		if !info && v.Severity == subject.Info {
			continue
		}
		if !b.violations[v.Invariant] && !seen[v.Name()] {
			seen[v.Name()] = true
			out = append(out, v.Name())
		}
	}
	for _, c := range h.Counters {
		if target != "" && c.Key == target && atLimit(c) && !b.full[c.Key] {
			out = append(out, fmt.Sprintf("%s at its limit (%d/%d)", c.Key, c.Count, c.Limit))
		}
	}
	sort.Strings(out)
	return out
}

// describe is a one-line summary of a health snapshot, e.g. "3 nodes UP,
// no violations".
func describe(h subject.Health) string {
	if h.Error != "" {
		return "health error: " + h.Error
	}
	states := map[subject.NodeState]int{}
	for _, n := range h.Nodes {
		states[n.State]++
	}
	var parts []string
	for st := subject.Unknown; st <= subject.Degraded; st++ {
		if states[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", states[st], st))
		}
	}
	nodes := plural(len(h.Nodes), "node")
	switch len(parts) {
	case 0:
	case 1:
		nodes += " " + h.Nodes[0].State.String()
	default:
		nodes += " (" + strings.Join(parts, ", ") + ")"
	}
	if len(h.Violations) == 0 {
		return nodes + ", no violations"
	}
	names := make([]string, len(h.Violations))
	for i, v := range h.Violations {
		names[i] = v.Name()
	}
	return nodes + ", violations: " + strings.Join(names, ", ")
}

// list joins items for a line: "a, b and c".
func list(items []string) string {
	switch len(items) {
	case 0:
		return "nothing"
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// plural is "1 node", "3 nodes".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

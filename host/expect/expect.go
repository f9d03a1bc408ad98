// Package expect evaluates an expectation's check against one health
// snapshot and describes expectations for people. It is pure: no clocks, no
// I/O; the runner applies the modes (when a check is due, what passes).
package expect

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/demohost/demohost/host/subject"
)

// Evaluate reports whether h satisfies c. The reason says what the
// snapshot showed, so a failed expectation can explain itself.
func Evaluate(c subject.Check, h *subject.Health) (met bool, reason string) {
	if h == nil {
		return false, "no health snapshot yet"
	}
	if h.Error != "" {
		return false, "subject could not be observed: " + h.Error
	}
	switch c.Kind {
	case subject.CheckViolationPresent:
		v := findViolation(h, c.Invariant, c.Target)
		if v == nil {
			return false, "no " + violationName(c.Invariant, c.Target) + " violation; present: " + listViolations(h)
		}
		return true, v.Name() + " present: " + v.Message
	case subject.CheckViolationAbsent:
		if v := findViolation(h, c.Invariant, c.Target); v != nil {
			return false, v.Name() + " present: " + v.Message
		}
		if c.Invariant == "" && c.Target == "" {
			return true, "no violations"
		}
		return true, "no " + violationName(c.Invariant, c.Target) + " violation"
	case subject.CheckAllNodes:
		if len(h.Nodes) == 0 {
			return false, "no nodes reported"
		}
		var off []string
		for _, n := range h.Nodes {
			if n.State != c.State {
				off = append(off, n.Label()+" "+n.State.String())
			}
		}
		if len(off) > 0 {
			return false, strings.Join(off, ", ")
		}
		return true, fmt.Sprintf("all %d nodes %s", len(h.Nodes), c.State)
	case subject.CheckNode:
		for _, n := range h.Nodes {
			if n.ID == c.Target || n.Name == c.Target {
				return n.State == c.State, n.Label() + " is " + n.State.String()
			}
		}
		return false, "node " + c.Target + " not reported"
	case subject.CheckMetricAbove, subject.CheckMetricBelow:
		for _, m := range h.Metrics {
			if m.Name != c.Target {
				continue
			}
			met := m.Value > c.Threshold
			if c.Kind == subject.CheckMetricBelow {
				met = m.Value < c.Threshold
			}
			return met, fmt.Sprintf("%s = %s%s", m.Name, formatFloat(m.Value), unit(m.Unit))
		}
		return false, "metric " + c.Target + " not reported"
	default:
		return false, fmt.Sprintf("unknown check kind %d", c.Kind)
	}
}

// Describe returns the expectation's own description or writes one that
// says its mode, e.g. "node_down present within 10s", "holds for 20s: no
// split_brain", "before the fault: all nodes UP (within 30s)".
//
// A plugin's own description replaces the check's, never the mode's:
// "holds while the fault is active: never two leaders in one term".
func Describe(e subject.Expectation) string {
	what := DescribeCheck(e.Check)
	within := FormatDuration(e.Within)
	if d := e.Description; d != "" {
		switch {
		case e.Mode == subject.Holds && e.WhileFault:
			return "holds while the fault is active: " + d
		case e.Mode == subject.Holds:
			return "holds for " + within + ": " + d
		case e.Mode == subject.Before:
			return "before the fault: " + d
		case e.Mode == subject.After:
			return "after the revert: " + d
		}
		return d
	}
	switch e.Mode {
	case subject.Holds:
		if e.WhileFault {
			return "holds while the fault is active: " + what
		}
		return "holds for " + within + ": " + what
	case subject.Before:
		return "before the fault: " + what + " (within " + within + ")"
	case subject.After:
		return "after the revert: " + what + " within " + within
	default:
		return what + " within " + within
	}
}

// DescribeCheck writes what a check looks for: "violation node_down
// present", "all nodes UP", "metric p99_ms < 50".
func DescribeCheck(c subject.Check) string {
	switch c.Kind {
	case subject.CheckViolationPresent:
		return "violation " + violationName(c.Invariant, c.Target) + " present"
	case subject.CheckViolationAbsent:
		if c.Invariant == "" && c.Target == "" {
			return "no violations"
		}
		return "no violation " + violationName(c.Invariant, c.Target)
	case subject.CheckAllNodes:
		return "all nodes " + c.State.String()
	case subject.CheckNode:
		return "node " + c.Target + " " + c.State.String()
	case subject.CheckMetricAbove:
		return "metric " + c.Target + " > " + formatFloat(c.Threshold)
	case subject.CheckMetricBelow:
		return "metric " + c.Target + " < " + formatFloat(c.Threshold)
	default:
		return fmt.Sprintf("unknown check kind %d", c.Kind)
	}
}

// FormatDuration writes d the way people say it: 10s, 1m30s, 2m, 250ms.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// findViolation returns the first violation of invariant on target (any,
// if empty), or nil. With no invariant named, informational (INFO)
// violations do not count: "no violations" means nothing is wrong.
func findViolation(h *subject.Health, invariant, target string) *subject.Violation {
	for i, v := range h.Violations {
		if invariant == "" && v.Severity == subject.Info {
			continue
		}
		if (invariant == "" || v.Invariant == invariant) && (target == "" || v.Target == target) {
			return &h.Violations[i]
		}
	}
	return nil
}

func listViolations(h *subject.Health) string {
	if len(h.Violations) == 0 {
		return "none"
	}
	names := make([]string, len(h.Violations))
	for i, v := range h.Violations {
		names[i] = v.Name()
	}
	return strings.Join(names, ", ")
}

func violationName(invariant, target string) string {
	name := orAny(invariant)
	if target != "" {
		name += " on " + target
	}
	return name
}

func orAny(invariant string) string {
	if invariant == "" {
		return "any"
	}
	return invariant
}

func unit(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

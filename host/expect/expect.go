// Package expect evaluates a chapter's declarative expectations against one
// health snapshot and describes them for people. It is pure: no clocks, no
// I/O; the runner decides when an expectation is due.
package expect

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/demohost/demohost/sdk"
	v1 "github.com/demohost/demohost/sdk/proto/demohost/v1"
)

// Evaluate reports whether snap satisfies e. The reason says what the
// snapshot showed, so a timed-out expectation can explain itself.
func Evaluate(e *sdk.Expectation, snap *sdk.HealthSnapshot) (met bool, reason string) {
	if snap == nil {
		return false, "no health snapshot yet"
	}
	if snap.GetError() != "" {
		return false, "subject could not be observed: " + snap.GetError()
	}
	switch e.GetKind() {
	case v1.ExpectationKind_VIOLATION_PRESENT:
		v := findViolation(snap, e.GetInvariant(), e.GetTarget())
		if v == nil {
			return false, "no " + violationName(e.GetInvariant(), e.GetTarget()) + " violation; present: " + listViolations(snap)
		}
		return true, violationName(v.GetInvariant(), v.GetTarget()) + " present: " + v.GetMessage()
	case v1.ExpectationKind_VIOLATION_ABSENT:
		if v := findViolation(snap, e.GetInvariant(), e.GetTarget()); v != nil {
			return false, violationName(v.GetInvariant(), v.GetTarget()) + " still present: " + v.GetMessage()
		}
		if e.GetInvariant() == "" && e.GetTarget() == "" {
			return true, "no violations"
		}
		return true, "no " + violationName(e.GetInvariant(), e.GetTarget()) + " violation"
	case v1.ExpectationKind_ALL_NODES_STATE:
		nodes := snap.GetNodes()
		if len(nodes) == 0 {
			return false, "no nodes reported"
		}
		var off []string
		for _, n := range nodes {
			if n.GetState() != e.GetState() {
				off = append(off, nodeName(n)+" "+n.GetState().String())
			}
		}
		if len(off) > 0 {
			return false, strings.Join(off, ", ")
		}
		return true, fmt.Sprintf("all %d nodes %s", len(nodes), e.GetState())
	case v1.ExpectationKind_NODE_STATE:
		for _, n := range snap.GetNodes() {
			if n.GetId() == e.GetTarget() || n.GetName() == e.GetTarget() {
				return n.GetState() == e.GetState(), nodeName(n) + " is " + n.GetState().String()
			}
		}
		return false, "node " + e.GetTarget() + " not reported"
	case v1.ExpectationKind_METRIC_ABOVE, v1.ExpectationKind_METRIC_BELOW:
		for _, m := range snap.GetMetrics() {
			if m.GetName() != e.GetTarget() {
				continue
			}
			met := m.GetValue() > e.GetThreshold()
			if e.GetKind() == v1.ExpectationKind_METRIC_BELOW {
				met = m.GetValue() < e.GetThreshold()
			}
			return met, fmt.Sprintf("%s = %s%s", m.GetName(), formatFloat(m.GetValue()), unit(m.GetUnit()))
		}
		return false, "metric " + e.GetTarget() + " not reported"
	default:
		return false, fmt.Sprintf("unknown expectation kind %d", e.GetKind())
	}
}

// Describe returns the expectation's own description or writes one, e.g.
// "violation node_down present within 10s" or "all nodes UP within 5s".
func Describe(e *sdk.Expectation) string {
	if d := e.GetDescription(); d != "" {
		return d
	}
	within := " within " + FormatDuration(e.GetWithin().AsDuration())
	switch e.GetKind() {
	case v1.ExpectationKind_VIOLATION_PRESENT:
		return "violation " + violationName(e.GetInvariant(), e.GetTarget()) + " present" + within
	case v1.ExpectationKind_VIOLATION_ABSENT:
		if e.GetInvariant() == "" && e.GetTarget() == "" {
			return "no violations" + within
		}
		return "no violation " + violationName(e.GetInvariant(), e.GetTarget()) + within
	case v1.ExpectationKind_ALL_NODES_STATE:
		return "all nodes " + e.GetState().String() + within
	case v1.ExpectationKind_NODE_STATE:
		return "node " + e.GetTarget() + " " + e.GetState().String() + within
	case v1.ExpectationKind_METRIC_ABOVE:
		return "metric " + e.GetTarget() + " > " + formatFloat(e.GetThreshold()) + within
	case v1.ExpectationKind_METRIC_BELOW:
		return "metric " + e.GetTarget() + " < " + formatFloat(e.GetThreshold()) + within
	default:
		return fmt.Sprintf("unknown expectation kind %d", e.GetKind())
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

// findViolation returns the first violation of invariant (any, if empty)
// on target (any, if empty), or nil.
func findViolation(snap *sdk.HealthSnapshot, invariant, target string) *sdk.Violation {
	for _, v := range snap.GetViolations() {
		if (invariant == "" || v.GetInvariant() == invariant) && (target == "" || v.GetTarget() == target) {
			return v
		}
	}
	return nil
}

func listViolations(snap *sdk.HealthSnapshot) string {
	vs := snap.GetViolations()
	if len(vs) == 0 {
		return "none"
	}
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = violationName(v.GetInvariant(), v.GetTarget())
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

func nodeName(n *sdk.Node) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	return n.GetId()
}

func unit(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

package sdk

import "time"

// Expectation is a check of the health stream, made in one of four modes.
// Build it with Eventually, Holds, HoldsWhileFault, Before or After.
type Expectation struct {
	Mode  Mode
	Check Check
	// Within is the deadline of Eventually, Before and After, and the
	// window of Holds.
	Within time.Duration
	// WhileFault makes a Holds expectation last as long as the chapter's
	// fault is active instead of Within: until its Duration ends or, with
	// no Duration, past the chapter until a RevertChaos chapter (or the
	// end of the run) reverts it.
	WhileFault bool
	// Description is shown instead of the one the host writes.
	Description string
}

// Mode says when an expectation is checked and what makes it pass.
type Mode int

// Expectation modes (after LitmusChaos' probe modes).
const (
	// ModeEventually is met by one snapshot within Within of the chapter
	// starting (of the injection, when the chapter has a fault).
	ModeEventually Mode = iota
	// ModeHolds is met when every snapshot over Within (or while the fault
	// is active) satisfies the check; it fails at the first that does not.
	ModeHolds
	// ModeBefore is met by a snapshot before the chapter's fault is
	// injected: the steady state first. The injection waits for it up to
	// Within and is skipped if it times out.
	ModeBefore
	// ModeAfter is met by a snapshot within Within of the chapter's fault
	// being reverted (its Duration ended), or, in a RevertChaos chapter, of
	// that revert.
	ModeAfter
)

// Eventually: c is seen within d.
func Eventually(c Check, d time.Duration) Expectation {
	return Expectation{Mode: ModeEventually, Check: c, Within: d}
}

// Holds: c is true in every snapshot for d.
func Holds(c Check, d time.Duration) Expectation {
	return Expectation{Mode: ModeHolds, Check: c, Within: d}
}

// HoldsWhileFault: c is true in every snapshot while the chapter's fault
// is active.
func HoldsWhileFault(c Check) Expectation {
	return Expectation{Mode: ModeHolds, Check: c, WhileFault: true}
}

// Before: c is seen within d, before the chapter's fault is injected.
func Before(c Check, d time.Duration) Expectation {
	return Expectation{Mode: ModeBefore, Check: c, Within: d}
}

// After: c is seen within d of the fault being reverted.
func After(c Check, d time.Duration) Expectation {
	return Expectation{Mode: ModeAfter, Check: c, Within: d}
}

// Check is what an expectation looks for in one snapshot.
type Check struct {
	Kind      CheckKind
	Invariant string
	Target    string // a node id or name, a metric name, a violation's target
	State     NodeState
	Threshold float64
}

// CheckKind is the kind of a Check.
type CheckKind int

// Check kinds.
const (
	CheckUnspecified      CheckKind = iota
	CheckViolationPresent           // a violation of Invariant (on Target, if set)
	CheckNoViolation                // no violation of Invariant (of any, if empty; on Target, if set)
	CheckAllNodes                   // every node is in State
	CheckNode                       // the node whose id or name is Target is in State
	CheckMetricAbove                // metric Target > Threshold
	CheckMetricBelow                // metric Target < Threshold
)

// ViolationPresent: a violation of invariant is present.
func ViolationPresent(invariant string) Check {
	return Check{Kind: CheckViolationPresent, Invariant: invariant}
}

// NoViolation: no violation of invariant is present; with invariant "", no
// violation at all but informational (Info) ones.
func NoViolation(invariant string) Check {
	return Check{Kind: CheckNoViolation, Invariant: invariant}
}

// AllNodes: every node is in state.
func AllNodes(state NodeState) Check { return Check{Kind: CheckAllNodes, State: state} }

// NodeIs: the node with this id or name is in state.
func NodeIs(node string, state NodeState) Check {
	return Check{Kind: CheckNode, Target: node, State: state}
}

// MetricAbove: metric name is above x.
func MetricAbove(name string, x float64) Check {
	return Check{Kind: CheckMetricAbove, Target: name, Threshold: x}
}

// MetricBelow: metric name is below x.
func MetricBelow(name string, x float64) Check {
	return Check{Kind: CheckMetricBelow, Target: name, Threshold: x}
}

// FaultTarget, as a Check's target in a chapter with a fault, stands for
// the target the fault actually hit: the host fills it in when the fault is
// injected. sdk.NodeIs(sdk.FaultTarget, sdk.Down) is "the node we killed is
// DOWN", whichever node the plugin picked. Not for Before expectations.
const FaultTarget = "{fault.target}"

// On narrows a violation check to one target (a node, a key).
func (c Check) On(target string) Check {
	c.Target = target
	return c
}

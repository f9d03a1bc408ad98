package subject

import "time"

// Expectation is a check of the health stream made in one mode.
type Expectation struct {
	Mode   Mode
	Check  Check
	Within time.Duration // deadline (eventually, before, after) or window (holds)
	// WhileFault: a Holds expectation lasting as long as the chapter's
	// fault is active.
	WhileFault  bool
	Description string // the plugin's own; empty: the host writes one
}

// Mode says when an expectation is checked and what makes it pass.
type Mode int

// Modes, numbered as on the wire.
const (
	Eventually Mode = iota // met by one snapshot within the deadline
	Holds                  // true in every snapshot over the window
	Before                 // met before the chapter's fault is injected
	After                  // met after the chapter's fault is reverted
)

func (m Mode) String() string {
	switch m {
	case Eventually:
		return "eventually"
	case Holds:
		return "holds"
	case Before:
		return "before"
	case After:
		return "after"
	}
	return "unknown mode"
}

// FaultTarget, as a check's target in a chapter with a fault, stands for
// the target the fault actually hit; the runner fills it in at injection.
const FaultTarget = "{fault.target}"

// Check is what an expectation looks for in one snapshot.
type Check struct {
	Kind      CheckKind
	Invariant string
	Target    string
	State     NodeState
	Threshold float64
}

// CheckKind is the kind of a Check.
type CheckKind int

// Check kinds, numbered as on the wire.
const (
	CheckUnspecified      CheckKind = iota
	CheckViolationPresent           // a violation of Invariant (on Target, if set)
	CheckViolationAbsent            // no violation of Invariant (any, if empty; on Target, if set)
	CheckAllNodes                   // every node is in State
	CheckNode                       // the node whose id or name is Target is in State
	CheckMetricAbove                // metric Target > Threshold
	CheckMetricBelow                // metric Target < Threshold
)

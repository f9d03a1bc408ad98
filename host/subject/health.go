package subject

import "time"

// Health is one snapshot of the subject's health. It is never modified
// once received, so views may share it.
type Health struct {
	TakenAt    time.Time
	Nodes      []Node
	Metrics    []Metric
	Counters   []Counter
	Violations []Violation
	// Error is set when the subject could not be observed.
	Error string
	// Note says what the host left out of an over-large snapshot (see
	// LimitHealth); empty when nothing was.
	Note string
}

// Node is one member of the cluster.
type Node struct {
	ID      string
	Name    string
	Role    string
	State   NodeState
	Address string
	Detail  string
}

// Key is the node's id, or its name when it has none.
func (n Node) Key() string {
	if n.ID != "" {
		return n.ID
	}
	return n.Name
}

// Label is the node's name, or its id when it has none.
func (n Node) Label() string {
	if n.Name != "" {
		return n.Name
	}
	return n.ID
}

// NodeState is a node's health as the subject sees it.
type NodeState int

// Node states, numbered as on the wire.
const (
	Unknown NodeState = iota
	Up
	Down
	Paused
	Degraded
)

func (s NodeState) String() string {
	switch s {
	case Up:
		return "UP"
	case Down:
		return "DOWN"
	case Paused:
		return "PAUSED"
	case Degraded:
		return "DEGRADED"
	}
	return "UNKNOWN"
}

// ParseNodeState reads what String writes (UNKNOWN for anything else).
func ParseNodeState(s string) NodeState {
	for st := Unknown; st <= Degraded; st++ {
		if st.String() == s {
			return st
		}
	}
	return Unknown
}

// Metric is one named value.
type Metric struct {
	Name  string
	Value float64
	Unit  string
	Kind  MetricKind
}

// MetricKind says how a metric is charted.
type MetricKind int

// Metric kinds, numbered as on the wire.
const (
	MetricGauge   MetricKind = iota // a level, charted as it is
	MetricCounter                   // a monotonic total, charted as its rate per second
	MetricRate                      // already per second, charted as it is
)

func (k MetricKind) String() string {
	switch k {
	case MetricCounter:
		return "counter"
	case MetricRate:
		return "rate"
	}
	return "gauge"
}

// ParseMetricKind reads what String writes (gauge for anything else).
func ParseMetricKind(s string) MetricKind {
	switch s {
	case "counter":
		return MetricCounter
	case "rate":
		return MetricRate
	}
	return MetricGauge
}

// Counter is a count against a limit, shown as a bar; Limit 0 means no
// limit (the count is shown alone).
type Counter struct {
	Key   string
	Count int64
	Limit int64
}

// Violation is an invariant that does not hold right now.
type Violation struct {
	Invariant string
	Severity  Severity
	Target    string
	Message   string
	Since     time.Time
}

// Name is "invariant" or "invariant on target".
func (v Violation) Name() string {
	if v.Target == "" {
		return v.Invariant
	}
	return v.Invariant + " on " + v.Target
}

package sdk

import "time"

// HealthSnapshot is the subject's health at one moment, in a form the host
// renders for any subject.
type HealthSnapshot struct {
	// TakenAt is when it was observed (zero: when the sdk received it).
	TakenAt    time.Time
	Nodes      []Node
	Metrics    []Metric
	Counters   []Counter
	Violations []Violation
	// Error says the subject could not be observed; what is known is shown
	// as unknown meanwhile.
	Error string
}

// Node is one member of the cluster.
type Node struct {
	ID      string
	Name    string
	Role    string // "leader", "follower", "store"
	State   NodeState
	Address string
	Detail  string
}

// NodeState is a node's health as the subject sees it.
type NodeState int

// Node states.
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

// Metric is one named value.
type Metric struct {
	Name  string
	Value float64
	Unit  string // "ms", "req/s", "nodes"
	Kind  MetricKind
}

// MetricKind says how a metric behaves over time, and so how it is charted.
type MetricKind int

// Metric kinds.
const (
	// MetricGauge is a level, charted as it is: nodes up, a Raft term, p99.
	MetricGauge MetricKind = iota
	// MetricCounter is a monotonic total (requests served): the host charts
	// its rate per second.
	MetricCounter
	// MetricRate is already per second (ops/s): charted as it is.
	MetricRate
)

// Counter is a count against a limit, shown as a bar. A Limit of 0 means
// there is no limit: the count is shown alone.
type Counter struct {
	Key   string
	Count int64
	Limit int64
}

// Violation is an invariant of the subject that does not hold right now.
type Violation struct {
	Invariant string // "node_down", "over_limit"
	Severity  Severity
	Target    string // the node or key it is about; may be empty
	Message   string
	Since     time.Time
}

// Package sdk is everything a demohost subject plugin needs: implement
// Subject, call Serve from main. The wire contract lives in
// proto/demohost/v1; the types below re-export it so a plugin imports only sdk.
package sdk

import (
	"context"
	"time"

	v1 "github.com/demohost/demohost/sdk/proto/demohost/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Subject is what a plugin implements. Every method may be called from any
// goroutine; Health is called concurrently with the others.
type Subject interface {
	// Describe says what the subject is. It must work with no cluster running.
	Describe(ctx context.Context) (*Description, error)
	// Configure receives every option of the schema, defaults filled in and
	// values already checked against their types.
	Configure(ctx context.Context, opts Options) error
	// Setup brings up (or attaches to) the cluster, reporting progress.
	// It should also reconcile state a crashed earlier run left behind.
	Setup(ctx context.Context, progress Progress) error
	// Teardown takes down what Setup brought up.
	Teardown(ctx context.Context, progress Progress) error
	// Chapters returns the ordered chapter list.
	Chapters(ctx context.Context) ([]*Chapter, error)
	// EnterChapter runs the on-enter action of chapter index (those with
	// HasAction), reporting status lines, and returns when it is done.
	EnterChapter(ctx context.Context, index int, status Progress) error
	// InjectChaos starts a fault. The returned handle must let a fresh plugin
	// process revert it (name the pid or container it touched).
	InjectChaos(ctx context.Context, cfg *ChaosConfig) (*Injected, error)
	// RevertChaos undoes a fault; reverting an already reverted handle is not
	// an error.
	RevertChaos(ctx context.Context, handle string, cfg *ChaosConfig) error
	// Health takes one snapshot. An error is shown to the user as a subject
	// outage; the health stream keeps running.
	Health(ctx context.Context) (*HealthSnapshot, error)
}

// Progress reports one line of progress or status to the host.
type Progress func(message string)

// Contract types, re-exported from the generated protobuf code.
type (
	Description    = v1.Description
	OptionSpec     = v1.OptionSpec
	OptionType     = v1.OptionType
	Chapter        = v1.Chapter
	Expectation    = v1.Expectation
	ChaosConfig    = v1.ChaosConfig
	ChaosType      = v1.ChaosType
	Injected       = v1.InjectChaosResponse
	HealthSnapshot = v1.HealthSnapshot
	Node           = v1.Node
	NodeState      = v1.NodeState
	Metric         = v1.Metric
	Counter        = v1.Counter
	Violation      = v1.Violation
	Severity       = v1.Severity
	ProgressEvent  = v1.ProgressEvent
	ChapterEvent   = v1.ChapterEvent
)

// Chaos types.
const (
	ContainerKill    = v1.ChaosType_CONTAINER_KILL
	RedisPause       = v1.ChaosType_REDIS_PAUSE
	BurstTraffic     = v1.ChaosType_BURST_TRAFFIC
	ContainerPause   = v1.ChaosType_CONTAINER_PAUSE
	NetworkPartition = v1.ChaosType_NETWORK_PARTITION
)

// Node states.
const (
	Unknown  = v1.NodeState_UNKNOWN
	Up       = v1.NodeState_UP
	Down     = v1.NodeState_DOWN
	Paused   = v1.NodeState_PAUSED
	Degraded = v1.NodeState_DEGRADED
)

// Severities.
const (
	Info     = v1.Severity_INFO
	Warning  = v1.Severity_WARNING
	Critical = v1.Severity_CRITICAL
)

// Option types.
const (
	String   = v1.OptionType_STRING
	Int      = v1.OptionType_INT
	Bool     = v1.OptionType_BOOL
	Duration = v1.OptionType_DURATION
	Float    = v1.OptionType_FLOAT
	Enum     = v1.OptionType_ENUM
)

// Dur converts a time.Duration for contract fields such as Chapter.ChaosCountdown.
func Dur(d time.Duration) *durationpb.Duration { return durationpb.New(d) }

// Time converts a time.Time for contract fields such as Violation.Since.
func Time(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// ExpectViolation: a violation of invariant is present within d.
func ExpectViolation(invariant string, d time.Duration) *Expectation {
	return &Expectation{Kind: v1.ExpectationKind_VIOLATION_PRESENT, Invariant: invariant, Within: Dur(d)}
}

// ExpectNoViolation: no violation of invariant (of any, if empty) is present within d.
func ExpectNoViolation(invariant string, d time.Duration) *Expectation {
	return &Expectation{Kind: v1.ExpectationKind_VIOLATION_ABSENT, Invariant: invariant, Within: Dur(d)}
}

// ExpectAllNodes: every node is in state within d.
func ExpectAllNodes(state NodeState, d time.Duration) *Expectation {
	return &Expectation{Kind: v1.ExpectationKind_ALL_NODES_STATE, State: state, Within: Dur(d)}
}

// ExpectNode: the node with this id or name is in state within d.
func ExpectNode(node string, state NodeState, d time.Duration) *Expectation {
	return &Expectation{Kind: v1.ExpectationKind_NODE_STATE, Target: node, State: state, Within: Dur(d)}
}

// ExpectMetricAbove: metric name exceeds threshold within d.
func ExpectMetricAbove(name string, threshold float64, d time.Duration) *Expectation {
	return &Expectation{Kind: v1.ExpectationKind_METRIC_ABOVE, Target: name, Threshold: threshold, Within: Dur(d)}
}

// ExpectMetricBelow: metric name is under threshold within d.
func ExpectMetricBelow(name string, threshold float64, d time.Duration) *Expectation {
	return &Expectation{Kind: v1.ExpectationKind_METRIC_BELOW, Target: name, Threshold: threshold, Within: Dur(d)}
}

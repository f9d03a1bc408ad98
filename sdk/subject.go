// Package sdk is everything a demohost subject plugin needs: implement
// Subject, call Serve from main. Its types are plain Go; the wire contract
// (proto/demohost/v2/subject.proto, docs/PROTOCOL.md) is converted at the
// edge and never seen by a plugin.
//
// The host calls a Subject in this order: Describe (any time); Configure,
// always before anything else; then Chapters, Setup, the chapters' actions,
// InjectChaos, RevertChaos and Health; Teardown last. Serve refuses calls
// made out of that order, so a Subject may rely on its options from
// Configure everywhere else. Teardown and RevertChaos may also come in a
// fresh plugin process that never ran Setup, after an earlier one crashed.
package sdk

import (
	"context"
	"time"
)

// Subject is what a plugin implements. Every method may be called from any
// goroutine; Health is called concurrently with the others.
type Subject interface {
	// Describe says what the subject is: options, fault kinds. It must work
	// with no cluster and before Configure.
	Describe(ctx context.Context) (Description, error)
	// Configure receives every option of the schema, defaults filled in and
	// values checked against their types. Return an error for values out of
	// range; it is shown to the user as one line.
	Configure(ctx context.Context, req ConfigureRequest) error
	// Chapters returns the ordered chapter list, as the options make it.
	Chapters(ctx context.Context) ([]Chapter, error)
	// Setup brings up (or attaches to) the cluster. It also reconciles what
	// a crashed earlier run left behind.
	Setup(ctx context.Context, req SetupRequest) error
	// Teardown takes down what Setup brought up. In a process that never
	// ran Setup, it removes what plugin processes that are gone left behind.
	Teardown(ctx context.Context, req TeardownRequest) error
	// InjectChaos starts a fault of one of the declared kinds. The handle
	// must let a fresh plugin process revert it: name the pid and its start
	// time, or the container, never an index into memory.
	InjectChaos(ctx context.Context, req InjectRequest) (Injected, error)
	// RevertChaos undoes a fault. Reverting an already reverted handle is
	// not an error.
	RevertChaos(ctx context.Context, req RevertRequest) (Reverted, error)
	// Health takes one snapshot. An error is shown as a subject outage; the
	// health stream keeps running.
	Health(ctx context.Context) (HealthSnapshot, error)
}

// ConfigureRequest carries the options.
type ConfigureRequest struct {
	// Options holds every option of the schema, checked, defaults filled.
	Options Options
}

// SetupRequest is the argument of Setup.
type SetupRequest struct {
	// Progress reports lines to the user while Setup runs.
	Progress Progress
	// HealthChanged, called whenever the subject sees its health change
	// (a node stopped answering, a violation was raised), makes the host
	// receive a fresh snapshot at once instead of at its next interval.
	// It never blocks; keep it for as long as the cluster runs. Serve (and
	// the sdktest harness) always set it; a test calling Setup directly
	// should too (func() {} will do).
	HealthChanged func()
}

// TeardownRequest is the argument of Teardown.
type TeardownRequest struct {
	// Progress reports lines to the user while Teardown runs.
	Progress Progress
}

// InjectRequest asks for one fault.
type InjectRequest struct {
	// Fault is the chapter's fault; its Params hold every parameter the
	// kind declares, checked, defaults filled.
	Fault Fault
}

// Injected is a fault that started.
type Injected struct {
	// Handle reverts the fault, even from a fresh plugin process.
	Handle string
	// Target is the target actually hit (the node picked when Fault.Target
	// was empty).
	Target string
	// Detail is one line for people: what was done ("SIGSTOP redis, pid 4242").
	Detail string
}

// RevertRequest asks to undo one fault.
type RevertRequest struct {
	// Handle is what InjectChaos returned.
	Handle string
	// Fault is the fault as it was injected.
	Fault Fault
	// Target is the target InjectChaos reported.
	Target string
}

// Reverted says what a revert did.
type Reverted struct {
	// Detail is one line for people: "SIGCONT redis, pid 4242".
	Detail string
}

// Description is what `demohost describe` shows.
type Description struct {
	Name        string
	Version     string
	Description string
	// Options are the --set keys the subject accepts.
	Options []Option
	// Faults are the kinds of fault the subject can inject. Chapters may
	// use only these kinds, with only their parameters.
	Faults []FaultKind
}

// Option documents one --set key or one fault parameter.
type Option struct {
	Name    string
	Type    OptionType
	Default string
	Help    string
	Choices []string // for Enum
}

// OptionType is the type of an option's value.
type OptionType int

// Option types.
const (
	String   OptionType = iota
	Int                 // a whole number: 3
	Bool                // true or false
	Duration            // Go duration syntax: 250ms, 30s
	Float               // a number: 1.5
	Enum                // one of Choices
)

// FaultKind is one kind of fault a subject can inject.
type FaultKind struct {
	// Kind is an upper-case identifier: one of the well-known kinds below,
	// or a kind of the subject's own (LEADER_KILL, CLOCK_SKEW).
	Kind string
	// Description is one line: what the fault does, how it is reverted.
	Description string
	// Target says what a fault's Target names, e.g. "a node id; empty for
	// a random node".
	Target string
	// Params are the fault's parameters, checked like options.
	Params []Option
}

// Well-known fault kinds. Their names mean the same in every subject; any
// subject may declare kinds of its own beside them.
const (
	ContainerKill    = "CONTAINER_KILL"    // SIGKILL a node (its container, or its process on a local runtime); revert starts it again
	ContainerPause   = "CONTAINER_PAUSE"   // freeze a node's container; revert unpauses it
	ProcessKill      = "PROCESS_KILL"      // SIGKILL a node process; revert starts it again
	ProcessPause     = "PROCESS_PAUSE"     // SIGSTOP a node process; revert sends SIGCONT
	RedisPause       = "REDIS_PAUSE"       // freeze Redis; revert resumes it
	BurstTraffic     = "BURST_TRAFFIC"     // a burst of requests; revert stops it
	NetworkPartition = "NETWORK_PARTITION" // cut a node off from others; revert heals it
	NetworkLatency   = "NETWORK_LATENCY"   // delay a node's traffic; revert removes the delay
)

// Chapter is one narrated step of the demo.
type Chapter struct {
	// ID names the chapter to the host; unique in the list. Empty: the sdk
	// names it by its position.
	ID    string
	Title string
	// Narration uses a small markup (see sdk/markup): *bold*, _dim_,
	// [red]text[/].
	Narration string
	// KeyHint is shown in the footer, e.g. "space: continue once node_down
	// shows".
	KeyHint string
	// AutoAdvance moves on when Action ends (and the expectations are
	// settled). It needs an Action.
	AutoAdvance bool
	// BlocksAdvance refuses to advance while the countdown or Action runs.
	BlocksAdvance bool
	// Action, if set, runs when the chapter is entered (after the fault is
	// injected). Its status lines are shown under the narration. An error
	// fails this chapter only, unless wrapped with Fatal.
	Action func(ctx context.Context, status Progress) error
	// Fault, if set, is injected when the chapter is entered, after
	// Countdown.
	Fault *Fault
	// Countdown is shown before the fault is injected.
	Countdown time.Duration
	// RevertChaos reverts every active fault when the chapter is entered.
	RevertChaos bool
	// Expectations are checked against the health stream.
	Expectations []Expectation
	// Skip, if set, says why the chapter cannot run here ("needs root for
	// network namespaces"): it is shown as skipped with this reason, nothing
	// of it runs, and the run still passes if every other chapter does.
	Skip string
}

// Fault is one fault to inject.
type Fault struct {
	// Kind is one of the subject's declared fault kinds.
	Kind string
	// Name is for people: "pause Redis".
	Name string
	// Target selects what to hit; empty lets the subject choose.
	Target      string
	Description string
	// Duration reverts the fault after it; 0 keeps it until a RevertChaos
	// chapter or the end of the run.
	Duration time.Duration
	// Params are the kind's parameters. In InjectChaos every declared
	// parameter is present, checked, defaults filled: read them with the
	// Options getters (req.Fault.Params.Float("multiplier")).
	Params Options
}

// Severity ranks violations and progress lines.
type Severity int

// Severities.
const (
	Info Severity = iota
	Warning
	Critical
)

func (s Severity) String() string {
	switch s {
	case Warning:
		return "WARNING"
	case Critical:
		return "CRITICAL"
	}
	return "INFO"
}

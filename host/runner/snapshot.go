package runner

import (
	"time"

	"github.com/demohost/demohost/host/subject"
)

// Phase is where the run is.
type Phase int

// Phases, in order.
const (
	PhaseStarting Phase = iota // plugin launched, Setup running
	PhaseRunning               // walking the chapters
	PhaseStopping              // reverting chaos and tearing down
	PhaseDone                  // finished; Run is returning
)

// ExpectationState is an expectation's progress.
type ExpectationState int

// Expectation states.
const (
	Pending    ExpectationState = iota
	Met                         // seen (eventually, before, after), or held for its whole window
	TimedOut                    // not seen by its deadline
	Broken                      // a hold that a snapshot broke
	NotChecked                  // never checked: the fault it needed was not injected
)

// Snapshot is an immutable copy of the demo state, made by the runner
// goroutine after every change. Views render it and nothing else.
type Snapshot struct {
	Subject        string
	SubjectVersion string
	StartedAt      time.Time
	Phase          Phase

	Index    int // current chapter, 0-based; -1 before the first
	Chapters []ChapterSummary
	Current  *ChapterView // nil before the first chapter

	Chaos  []ActiveChaos   // faults active now
	Health *subject.Health // latest; nil before the first
	Events []Event         // most recent last, bounded

	// Notice is a transient message for the user, e.g. why advancing was
	// refused. Empty when there is none.
	Notice string
	// PluginError is set when the plugin failed or crashed.
	PluginError string
}

// ChapterSummary is one entry of the chapter list.
type ChapterSummary struct {
	Title  string
	Status string // "", running, passed, failed, skipped
}

// ChapterView is the current chapter as the user sees it.
type ChapterView struct {
	Title         string
	Narration     string // contract markup, see sdk/markup
	KeyHint       string
	BlocksAdvance bool
	// CountdownUntil is when the chaos countdown ends (zero: none running).
	CountdownUntil time.Time
	// SteadyWait: the countdown is over and the fault waits for the
	// chapter's before expectations.
	SteadyWait    bool
	ActionRunning bool
	Status        []StatusLine // on-enter action status lines
	Expectations  []ExpectationView
	// Error says why the chapter failed outside its expectations (its
	// action or its fault); empty otherwise.
	Error string
	// Skip is the plugin's reason for skipping the chapter; empty: it runs.
	Skip string
}

// StatusLine is one line an on-enter action reported.
type StatusLine struct {
	Severity subject.Severity
	Message  string
}

// ExpectationView is one expectation of the current chapter.
type ExpectationView struct {
	Description string
	Mode        subject.Mode
	State       ExpectationState
	// Armed: its clock started (a before expectation at the chapter's
	// start, an after one at the revert).
	Armed    bool
	Deadline time.Time // zero for a hold lasting while the fault is active
	MetAt    time.Time
	BrokenAt time.Time
	Reason   string // what broke it, why it failed
}

// ActiveChaos is a fault injected and not yet reverted.
type ActiveChaos struct {
	Kind       string
	Label      string // name (KIND, param=value, ...)
	Target     string
	InjectedAt time.Time
	Until      time.Time // zero: until reverted
}

// Event is one line for the events panel.
type Event struct {
	At       time.Time
	Kind     string // journal.Kind* constants
	Severity subject.Severity
	Message  string
}

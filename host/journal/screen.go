package journal

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// ScreenVersion is the layout of Screen that this demohost writes.
const ScreenVersion = 1

// Screen is what the run's views were shown, for `demohost replay`: every
// state of the demo the runner published (Frames) and every health
// snapshot it showed (Health), each as what changed since the one before,
// so that a long run stays small. With the journal's Events it is enough
// to rebuild each of those states as it was, at its time (the runner's
// screen.go writes and reads it).
//
// Times are nanoseconds since the journal's started_at; 0 stands for no
// time (a time at started_at to the nanosecond is recorded 1 ns later).
// Field names are a contract, like the rest of the journal.
type Screen struct {
	Version int `json:"version"`
	// EventsShown is how many of the latest events a state lists.
	EventsShown int `json:"events_shown"`
	// Chapters are what of each chapter never changes during a run.
	Chapters []ScreenChapter `json:"chapters"`
	Health   []HealthRecord  `json:"health"`
	Frames   []Frame         `json:"frames"`
}

// ScreenChapter is a chapter as shown, less its progress.
type ScreenChapter struct {
	Title         string              `json:"title"`
	Narration     string              `json:"narration,omitempty"`
	KeyHint       string              `json:"key_hint,omitempty"`
	BlocksAdvance bool                `json:"blocks_advance,omitempty"`
	Expectations  []ScreenExpectation `json:"expectations,omitempty"`
	// Skip is why the plugin skips the chapter; empty: it runs.
	Skip string `json:"skip,omitempty"`
}

// ScreenExpectation is an expectation as shown before its chapter starts.
type ScreenExpectation struct {
	Description string `json:"description"`
	Mode        string `json:"mode"`
}

// Frame is one published state of the demo: what changed since the frame
// before (the first: since a run about to start, on no chapter). A field
// left out did not change.
type Frame struct {
	At    int64  `json:"at"`
	Phase string `json:"phase,omitempty"` // starting, running, stopping, done
	// Index is the chapter shown (-1: none yet).
	Index *int `json:"index,omitempty"`
	// Statuses are chapters' new statuses ("", running, passed, failed,
	// skipped), by chapter index.
	Statuses map[int]string `json:"statuses,omitempty"`
	// Chapter is how the chapter shown changed since it was last shown.
	Chapter *ChapterChange `json:"chapter,omitempty"`
	// Chaos lists every fault active now, when that changed.
	Chaos *[]ActiveFault `json:"chaos,omitempty"`
	// Health is how many of Screen.Health had been shown, the last of them
	// being the latest health snapshot.
	Health int `json:"health,omitempty"`
	// Events is how many of the journal's events had happened.
	Events      int     `json:"events,omitempty"`
	Notice      *string `json:"notice,omitempty"`
	PluginError *string `json:"plugin_error,omitempty"`
}

// ChapterChange is how one chapter's progress changed.
type ChapterChange struct {
	Index          int    `json:"index"`
	CountdownUntil *int64 `json:"countdown_until,omitempty"`
	SteadyWait     *bool  `json:"steady_wait,omitempty"`
	ActionRunning  *bool  `json:"action_running,omitempty"`
	// The action's status lines: StatusDropped dropped from the front,
	// then StatusAdded appended.
	StatusDropped int                       `json:"status_dropped,omitempty"`
	StatusAdded   []StatusLine              `json:"status_added,omitempty"`
	Expectations  map[int]ExpectationChange `json:"expectations,omitempty"`
	Error         *string                   `json:"error,omitempty"`
}

// StatusLine is a line an on-enter action reported.
type StatusLine struct {
	Severity string `json:"severity,omitempty"` // WARNING, CRITICAL; "" for INFO
	Message  string `json:"message"`
}

// ExpectationChange is how one expectation's progress changed.
type ExpectationChange struct {
	// Description changes when the fault's target is filled in.
	Description *string `json:"description,omitempty"`
	State       string  `json:"state,omitempty"` // pending, met, timed_out, broken, not_checked
	Armed       *bool   `json:"armed,omitempty"`
	Deadline    *int64  `json:"deadline,omitempty"`
	MetAt       *int64  `json:"met_at,omitempty"`
	BrokenAt    *int64  `json:"broken_at,omitempty"`
	Reason      *string `json:"reason,omitempty"`
}

// ActiveFault is a fault active at the time of a frame, as shown.
type ActiveFault struct {
	Kind       string `json:"kind"`
	Label      string `json:"label"`
	Target     string `json:"target,omitempty"`
	InjectedAt int64  `json:"injected_at"`
	Until      int64  `json:"until,omitempty"`
}

// HealthRecord is one health snapshot: what changed since the one before
// (the first: since an empty one). A list given whole replaces the last
// (its length or the names of its elements changed); otherwise only the
// elements given by index changed, and of those only the fields given.
type HealthRecord struct {
	TakenAt int64         `json:"taken_at"`
	Nodes   *[]HealthNode `json:"nodes,omitempty"`
	// Node holds nodes' changed fields (role, state, address, detail).
	Node       map[int]map[string]string `json:"node,omitempty"`
	Metrics    *[]HealthMetric           `json:"metrics,omitempty"`
	Values     map[int]Number            `json:"values,omitempty"`
	Counters   *[]HealthCounter          `json:"counters,omitempty"`
	Counts     map[int]int64             `json:"counts,omitempty"`
	Violations *[]HealthViolation        `json:"violations,omitempty"`
	Violation  map[int]ViolationChange   `json:"violation,omitempty"`
	Error      *string                   `json:"error,omitempty"`
	// Note says what the host left out of an over-large snapshot.
	Note *string `json:"note,omitempty"`
}

// ViolationChange is how a violation still raised changed.
type ViolationChange struct {
	Severity *string `json:"severity,omitempty"`
	Message  *string `json:"message,omitempty"`
	Since    *int64  `json:"since,omitempty"`
}

// HealthNode is a node as a health snapshot shows it.
type HealthNode struct {
	ID      string `json:"id,omitempty"`
	Name    string `json:"name,omitempty"`
	Role    string `json:"role,omitempty"`
	State   string `json:"state"`
	Address string `json:"address,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// HealthMetric is a metric as a health snapshot shows it.
type HealthMetric struct {
	Name  string `json:"name"`
	Value Number `json:"value"`
	Unit  string `json:"unit,omitempty"`
	Kind  string `json:"kind,omitempty"` // gauge, counter, rate
}

// HealthCounter is a count against a limit.
type HealthCounter struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
	Limit int64  `json:"limit,omitempty"`
}

// HealthViolation is a violation as a health snapshot shows it.
type HealthViolation struct {
	Invariant string `json:"invariant"`
	Severity  string `json:"severity,omitempty"`
	Target    string `json:"target,omitempty"`
	Message   string `json:"message,omitempty"`
	Since     int64  `json:"since,omitempty"`
}

// Number is a float64 that survives JSON whatever its value: NaN and the
// infinities, which JSON numbers cannot hold, are written as the strings
// "NaN", "+Inf" and "-Inf".
type Number float64

// MarshalJSON writes n as the shortest number that reads back as n.
func (n Number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (n *Number) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !(math.IsNaN(f) || math.IsInf(f, 0)) {
			return fmt.Errorf("number %s: want a number, \"NaN\", \"+Inf\" or \"-Inf\"", b)
		}
		*n = Number(f)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Number(f)
	return nil
}

// Stamp is t as a Screen time: nanoseconds of wall clock since start, 0
// for no time.
func Stamp(start, t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	d := int64(t.Round(0).Sub(start.Round(0)))
	if d == 0 {
		return 1
	}
	return d
}

// Unstamp is the time a Screen time stands for.
func Unstamp(start time.Time, at int64) time.Time {
	if at == 0 {
		return time.Time{}
	}
	return start.Round(0).Add(time.Duration(at))
}

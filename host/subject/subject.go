// Package subject is what the host knows of a subject plugin, in the host's
// own types: its description, chapters, faults and health. host/pluginhost
// fills them from the wire; the runner, the views and the reports use only
// these. It also holds the checks the host makes of every plugin, whatever
// its language: options against the schema, chapters against the contract.
package subject

import (
	"context"
	"sort"
	"time"

	"github.com/demohost/demohost/sdk/option"
)

// Plugin is a running subject plugin as the runner uses it. Streaming calls
// deliver each message to a callback on the caller's goroutine and return
// when the stream ends.
type Plugin interface {
	Setup(ctx context.Context, progress func(Line)) error
	Teardown(ctx context.Context, progress func(Line)) error
	// EnterChapter runs the on-enter action of the chapter with id.
	EnterChapter(ctx context.Context, id string, status func(Line)) error
	InjectChaos(ctx context.Context, f Fault) (Injected, error)
	// RevertChaos undoes the fault behind handle and says what it did.
	RevertChaos(ctx context.Context, r Revert) (detail string, err error)
	// WatchHealth delivers snapshots until ctx ends (returns nil) or the
	// stream breaks (returns the error).
	WatchHealth(ctx context.Context, interval time.Duration, each func(Health)) error
}

// Description is what a subject says it is.
type Description struct {
	Name        string
	Version     string
	Description string
	Options     []option.Spec
	Faults      []FaultKind
}

// FaultKind is one kind of fault a subject can inject.
type FaultKind struct {
	Kind        string
	Description string
	Target      string // what a fault's target names
	Params      []option.Spec
}

// FaultKind returns the declared kind named kind.
func (d Description) FaultKind(kind string) (FaultKind, bool) {
	for _, k := range d.Faults {
		if k.Kind == kind {
			return k, true
		}
	}
	return FaultKind{}, false
}

// Chapter is one narrated step of the demo.
type Chapter struct {
	ID            string
	Title         string
	Narration     string // markup, see sdk/markup
	KeyHint       string
	AutoAdvance   bool
	BlocksAdvance bool
	HasAction     bool
	Fault         *Fault
	Countdown     time.Duration
	RevertChaos   bool
	Expectations  []Expectation
	// Skip says why the chapter cannot run here; empty: it runs.
	Skip string
}

// Fault is one fault: a declared kind, a target, parameters.
type Fault struct {
	Kind        string
	Name        string
	Target      string
	Description string
	Duration    time.Duration // 0: until reverted
	Params      map[string]string
}

// Label is the fault's name, or its kind when it has none.
func (f Fault) Label() string {
	if f.Name != "" {
		return f.Name
	}
	return f.Kind
}

// ParamList is a fault's parameters as "name=value", sorted by name: how
// events, describe and reports show them.
func ParamList(params map[string]string) []string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + params[k]
	}
	return keys
}

// Injected is a fault that started.
type Injected struct {
	Handle string
	Target string
	Detail string
}

// Revert asks to undo a fault: its handle, the fault as injected and the
// target hit.
type Revert struct {
	Handle string
	Fault  Fault
	Target string
}

// Line is one line of progress or status.
type Line struct {
	Severity Severity
	Message  string
}

// Severity ranks lines and violations.
type Severity int

// Severities, numbered as on the wire.
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

// ParseSeverity reads what String writes ("" and anything else: Info).
func ParseSeverity(s string) Severity {
	switch s {
	case "WARNING":
		return Warning
	case "CRITICAL":
		return Critical
	}
	return Info
}

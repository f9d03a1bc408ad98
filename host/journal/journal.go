// Package journal is the record of one demo run: what the runner saw and
// did, timestamped. It is written as the --report JSON and read back by
// `demohost report`. The runner fills it; reports render it.
package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Chapter statuses.
const (
	Passed  = "passed"
	Failed  = "failed"
	Skipped = "skipped"
)

// Journal is one run. Field names are the report's JSON contract
// (docs/ARCHITECTURE.md, "CLI contract"): add fields, never rename them.
type Journal struct {
	Subject        string            `json:"subject"`
	SubjectVersion string            `json:"subject_version"`
	Options        map[string]string `json:"options,omitempty"`
	Headless       bool              `json:"headless"`
	StartedAt      time.Time         `json:"started_at"`
	FinishedAt     time.Time         `json:"finished_at"`
	// Result is passed when every chapter passed, else failed, or aborted
	// when the run ended early (quit, signal, plugin crash).
	Result         string           `json:"result"`
	Chapters       []Chapter        `json:"chapters"`
	Chaos          []Chaos          `json:"chaos"`
	ViolationsSeen []ViolationSeen  `json:"violations_seen"`
	Violations     []ViolationSpan  `json:"violations"`
	Nodes          []NodeTransition `json:"node_transitions"`
	Metrics        []MetricSeries   `json:"metrics"`
	Events         []Event          `json:"events"`
	// Screen is what the views were shown, for `demohost replay`; nil in
	// journals written before it was recorded.
	Screen *Screen `json:"screen,omitempty"`
}

// Chapter is one chapter's outcome.
type Chapter struct {
	Index        int           `json:"index"`
	Title        string        `json:"title"`
	Status       string        `json:"status"` // passed | failed | skipped
	StartedAt    *time.Time    `json:"started_at,omitempty"`
	FinishedAt   *time.Time    `json:"finished_at,omitempty"`
	Expectations []Expectation `json:"expectations"`
	Error        string        `json:"error,omitempty"` // e.g. the on-enter action failed
	// SkipReason is the plugin's reason for skipping the chapter (it cannot
	// run here); such a chapter does not fail the run.
	SkipReason string `json:"skip_reason,omitempty"`
}

// Expectation is one check's outcome.
type Expectation struct {
	Description string `json:"description"`
	// Mode is eventually, holds, before or after.
	Mode  string     `json:"mode,omitempty"`
	Met   bool       `json:"met"`
	MetAt *time.Time `json:"met_at,omitempty"`
	// Deadline is when it timed out or, for holds, when its window ends
	// (zero for a hold lasting while the fault is active).
	Deadline time.Time `json:"deadline"`
	// BrokenAt is when a holds expectation saw a snapshot that broke it;
	// Reason then says what that snapshot showed.
	BrokenAt *time.Time `json:"broken_at,omitempty"`
	// Reason says why it failed (timed out, what the last snapshot showed).
	Reason string `json:"reason,omitempty"`
}

// Chaos is one injection and its revert.
type Chaos struct {
	Name string `json:"name"`
	// Type is the fault kind (CONTAINER_KILL, LEADER_KILL, ...).
	Type string `json:"type"`
	// Target is the target hit; RequestedTarget what the chapter asked
	// for (empty: the plugin chose).
	Target          string            `json:"target"`
	RequestedTarget string            `json:"requested_target,omitempty"`
	Params          map[string]string `json:"params,omitempty"`
	Description     string            `json:"description,omitempty"`
	DurationMS      int64             `json:"duration_ms,omitempty"` // 0: until reverted
	// Handle reverts the fault; it stays in the chaos log, out of reports.
	Handle     string     `json:"-"`
	Chapter    int        `json:"chapter"`
	Detail     string     `json:"detail,omitempty"` // the plugin's line on injecting
	InjectedAt time.Time  `json:"injected_at"`
	RevertedAt *time.Time `json:"reverted_at"`
	// RevertedBy: duration | chapter | exit | crash | recover.
	RevertedBy   string `json:"reverted_by,omitempty"`
	RevertDetail string `json:"revert_detail,omitempty"` // the plugin's line on reverting
	RevertError  string `json:"revert_error,omitempty"`
	// Evidence is what health showed before, during and after the fault;
	// filled by (*Journal).AddEvidence once the run is over.
	Evidence *Evidence `json:"evidence,omitempty"`
}

// ViolationSeen is an invariant that was violated at least once.
type ViolationSeen struct {
	Invariant string    `json:"invariant"`
	FirstSeen time.Time `json:"first_seen"`
	Count     int       `json:"count"` // how many separate times it was raised
}

// ViolationSpan is one violation from raised to cleared (nil: still raised
// at the end of the run).
type ViolationSpan struct {
	Invariant string     `json:"invariant"`
	Target    string     `json:"target,omitempty"`
	Severity  string     `json:"severity"`
	Message   string     `json:"message"`
	RaisedAt  time.Time  `json:"raised_at"`
	ClearedAt *time.Time `json:"cleared_at,omitempty"`
}

// NodeTransition records a node entering a state (the first snapshot
// records every node).
type NodeTransition struct {
	At    time.Time `json:"at"`
	Node  string    `json:"node"`
	State string    `json:"state"` // UP, DOWN, PAUSED, DEGRADED, UNKNOWN
}

// MetricSeries is a metric's values over the run, sampled at most once a second.
type MetricSeries struct {
	Name string `json:"name"`
	Unit string `json:"unit,omitempty"`
	// Kind is gauge, counter (a monotonic total, charted as its rate) or
	// rate; empty in journals older than protocol 2.
	Kind   string  `json:"kind,omitempty"`
	Points []Point `json:"points"`
}

// Point is one sample.
type Point struct {
	At    time.Time `json:"at"`
	Value float64   `json:"value"`
}

// Event is one timestamped line of what happened.
type Event struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"` // see the Kind constants
	// Severity is WARNING or CRITICAL; empty for ordinary lines.
	Severity string `json:"severity,omitempty"`
	Message  string `json:"message"`
}

// Event kinds.
const (
	KindSetup     = "setup"
	KindChapter   = "chapter"
	KindStatus    = "status"
	KindChaos     = "chaos"
	KindRevert    = "revert"
	KindViolation = "violation"
	KindCleared   = "cleared"
	KindExpect    = "expectation"
	KindError     = "error"
	KindTeardown  = "teardown"
)

// Encode writes the journal as JSON, indented to encodeDepth: each chapter,
// fault, event, frame and health record starts a line of its own, and
// what is nested deeper (a series' points, a fault's evidence, a frame)
// stays on one line, so a long run's journal stays small.
func (j *Journal) Encode(w io.Writer) error {
	b, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	_, err = w.Write(append(indentTo(b, encodeDepth), '\n'))
	return err
}

// encodeDepth is how deep Encode indents.
const encodeDepth = 3

// indentTo is compact JSON src indented by two spaces a level, as
// json.Indent does, down to depth levels of objects and arrays; deeper
// ones are left compact, each on one line.
func indentTo(src []byte, depth int) []byte {
	var b bytes.Buffer
	level, inString, escaped := 0, false, false
	newline := func(n int) {
		b.WriteByte('\n')
		for range n {
			b.WriteString("  ")
		}
	}
	for i, c := range src {
		if inString {
			b.WriteByte(c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
			b.WriteByte(c)
		case '{', '[':
			level++
			b.WriteByte(c)
			if level <= depth && i+1 < len(src) && src[i+1] != '}' && src[i+1] != ']' {
				newline(level)
			}
		case '}', ']':
			if level <= depth && src[i-1] != '{' && src[i-1] != '[' {
				newline(level - 1)
			}
			level--
			b.WriteByte(c)
		case ',':
			b.WriteByte(c)
			if level <= depth {
				newline(level)
			}
		case ':':
			b.WriteByte(c)
			if level <= depth {
				b.WriteByte(' ')
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.Bytes()
}

// MaxRead bounds what Read reads: a run's journal is a few megabytes; a
// file much larger (or endless, like /dev/zero) is not one.
const MaxRead = 64 << 20

// Read loads a journal written by Encode (a --report file), reading at most
// MaxRead bytes.
func Read(path string) (*Journal, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	defer f.Close()
	j, err := Decode(f, MaxRead)
	if err != nil {
		return nil, fmt.Errorf("read report %s: %w", path, err)
	}
	return j, nil
}

// Decode reads one journal from r, reading at most limit bytes: more is
// an error, as is anything but white space after the journal.
func Decode(r io.Reader, limit int64) (*Journal, error) {
	c := &countingReader{r: io.LimitReader(r, limit+1)}
	dec := json.NewDecoder(c)
	var j Journal
	err := dec.Decode(&j)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("more follows the journal")
		}
	}
	switch {
	case c.n > limit:
		return nil, fmt.Errorf("larger than %s: not a demohost journal (pass the file --report wrote)", size(limit))
	case err != nil:
		return nil, fmt.Errorf("not a demohost journal: %w", err)
	}
	return &j, nil
}

// size is n bytes for people: 64 MiB, 512 bytes.
func size(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// countingReader counts what it reads.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Package chaoslog is the on-disk record of faults a run injected and has
// not yet reverted. Each run appends to its own file, synced before the
// injection is acknowledged, and removes the file once everything it
// injected is reverted. A file left behind by a crashed host lists what
// `demohost recover` must revert.
package chaoslog

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/demohost/demohost/host/journal"
)

// record is one line of a log file.
type record struct {
	Op      string            `json:"op"` // run | inject | revert
	At      time.Time         `json:"at"`
	Plugin  string            `json:"plugin,omitempty"`  // run: plugin executable
	Options map[string]string `json:"options,omitempty"` // run: --set options
	PID     int               `json:"pid,omitempty"`     // run: host pid
	Chaos   *journal.Chaos    `json:"chaos,omitempty"`   // inject | revert
}

// Log is one run's chaos log. It holds an exclusive lock on its file while
// the run lives, so other demohost processes never treat it as abandoned.
type Log struct {
	mu     sync.Mutex
	f      *os.File
	active map[string]bool // handles injected and not reverted
}

// DefaultDir is $XDG_STATE_HOME/demohost/chaos (~/.local/state/... when unset).
func DefaultDir() string {
	state := os.Getenv("XDG_STATE_HOME")
	if state == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		state = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(state, "demohost", "chaos")
}

// Open starts a new log in dir for a run of plugin with options.
func Open(dir, plugin string, options map[string]string) (*Log, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("chaos log: %w", err)
	}
	name := fmt.Sprintf("%s-%d.jsonl", time.Now().UTC().Format("20060102T150405.000000000"), os.Getpid())
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("chaos log: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("chaos log: lock %s: %w", f.Name(), err)
	}
	l := &Log{f: f, active: map[string]bool{}}
	if err := l.append(record{Op: "run", Plugin: plugin, Options: options, PID: os.Getpid()}); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// Path is the log file's path.
func (l *Log) Path() string { return l.f.Name() }

// Injected records a fault; it returns once the record is on disk.
func (l *Log) Injected(c journal.Chaos) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.active[c.Handle] = true
	return l.append(record{Op: "inject", Chaos: &c})
}

// Reverted records that a fault is undone.
func (l *Log) Reverted(c journal.Chaos) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.active, c.Handle)
	return l.append(record{Op: "revert", Chaos: &c})
}

// Close ends the run's log: the file is removed when nothing is left to
// revert, and kept (for `demohost recover`) otherwise.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.active) == 0 {
		os.Remove(l.f.Name())
	}
	return l.f.Close()
}

func (l *Log) append(r record) error {
	r.At = time.Now().UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("chaos log: %w", err)
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("chaos log: write: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("chaos log: sync: %w", err)
	}
	return nil
}

// Abandoned is a log left by a run that ended without reverting everything.
type Abandoned struct {
	File    string
	Plugin  string
	Options map[string]string
	Started time.Time
	Active  []journal.Chaos // injected, never recorded as reverted
}

// Describe is a one-line summary, e.g. for the start-up warning.
func (a Abandoned) Describe() string {
	parts := make([]string, len(a.Active))
	for i, c := range a.Active {
		parts[i] = fmt.Sprintf("%s on %s", c.Type, c.Target)
	}
	return fmt.Sprintf("%s (plugin %s, started %s)", strings.Join(parts, ", "), a.Plugin, a.Started.Local().Format(time.DateTime))
}

// FindAbandoned lists the logs in dir whose run is gone (not locked) and
// that still have faults outstanding. Logs of finished runs with nothing
// outstanding are removed.
func FindAbandoned(dir string) ([]Abandoned, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Abandoned
	for _, file := range files {
		a, err := readAbandoned(file)
		if errors.Is(err, errLocked) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(a.Active) == 0 {
			os.Remove(file)
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

var errLocked = errors.New("log in use by a running demohost")

func readAbandoned(file string) (Abandoned, error) {
	a := Abandoned{File: file}
	f, err := os.Open(file)
	if err != nil {
		return a, fmt.Errorf("chaos log: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return a, errLocked
	}
	active := map[string]journal.Chaos{}
	var order []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var r record
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue // a torn last line from a crash
		}
		switch r.Op {
		case "run":
			a.Plugin, a.Options, a.Started = r.Plugin, r.Options, r.At
		case "inject":
			if r.Chaos != nil {
				if _, seen := active[r.Chaos.Handle]; !seen {
					order = append(order, r.Chaos.Handle)
				}
				active[r.Chaos.Handle] = *r.Chaos
			}
		case "revert":
			if r.Chaos != nil {
				delete(active, r.Chaos.Handle)
			}
		}
	}
	for _, h := range order {
		if c, ok := active[h]; ok {
			a.Active = append(a.Active, c)
		}
	}
	return a, sc.Err()
}

// MarkReverted appends a revert record to an abandoned log, removing the
// file when nothing is left outstanding.
func MarkReverted(a Abandoned, c journal.Chaos) error {
	f, err := os.OpenFile(a.File, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("chaos log: %w", err)
	}
	l := &Log{f: f, active: map[string]bool{}}
	for _, x := range a.Active {
		l.active[x.Handle] = true
	}
	if err := l.Reverted(c); err != nil {
		f.Close()
		return err
	}
	return l.Close()
}

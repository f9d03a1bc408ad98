package ledger

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/demohost/demohost/host/journal"
)

// Abandoned is a log left by a run that ended without reverting every
// fault (its host crashed or was SIGKILLed).
type Abandoned struct {
	File    string
	Run     Run
	Started time.Time
	// Active are the faults injected and never recorded as reverted.
	Active  []journal.Chaos
	handles []string
}

// Describe is a one-line summary, e.g. for the start-up warning.
func (a Abandoned) Describe() string {
	parts := make([]string, len(a.Active))
	for i, c := range a.Active {
		parts[i] = fmt.Sprintf("%s on %s", c.Type, c.Target)
	}
	return fmt.Sprintf("%s (plugin %s, started %s)", strings.Join(parts, ", "), a.Run.Plugin, a.Started.Local().Format(time.DateTime))
}

// FindAbandoned lists the logs in dir whose run is gone (not locked) and
// that still have faults outstanding. Logs of finished runs with nothing
// outstanding are removed; a log still without its run line is left to
// the demohost creating it.
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
			// A log without its run line may be one another demohost has
			// just created and not yet locked: leave it.
			if a.Run.Plugin != "" {
				os.Remove(file)
			}
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
		var e entry
		var old legacyEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil || json.Unmarshal(sc.Bytes(), &old) != nil {
			continue // a torn last line from a crash
		}
		handle := e.Handle
		if handle == "" && old.Chaos != nil {
			handle = old.Chaos.Handle
		}
		switch e.Op {
		case "run":
			if e.Run != nil {
				a.Run, a.Started = *e.Run, e.At
			} else if old.Plugin != "" {
				a.Run, a.Started = Run{Plugin: old.Plugin, Options: old.Options, PID: old.PID}, e.At
			}
		case "inject":
			if e.Chaos != nil && handle != "" {
				if _, seen := active[handle]; !seen {
					order = append(order, handle)
				}
				active[handle] = *e.Chaos
			}
		case "revert":
			delete(active, handle)
		}
	}
	for _, h := range order {
		if c, ok := active[h]; ok {
			c.Handle = h
			a.Active = append(a.Active, c)
			a.handles = append(a.handles, h)
		}
	}
	return a, sc.Err()
}

// legacyEntry is what a line of a log written by a demohost of protocol 1
// holds beyond entry: the run's fields at the top level, the handle inside
// the record. A host upgraded after a crash still finds those faults.
type legacyEntry struct {
	Plugin  string            `json:"plugin"`
	Options map[string]string `json:"options"`
	PID     int               `json:"pid"`
	Chaos   *struct {
		Handle string `json:"handle"`
	} `json:"chaos"`
}

// Resume takes over an abandoned log: its outstanding faults become the
// active records of a ledger that appends to the same file (locked), so
// reverting them through Revert(…, ByRecover) is recorded where the crashed
// run left them, and Close removes the file once none is left.
func Resume(a Abandoned) (*Ledger, error) {
	f, err := os.OpenFile(a.File, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("chaos log: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("chaos log %s is being recovered by another demohost", a.File)
	}
	l := &Ledger{f: f}
	for i, c := range a.Active {
		l.records = append(l.records, c)
		l.handles = append(l.handles, a.handles[i])
	}
	return l, nil
}

package ledger

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/demohost/demohost/host/journal"
)

// MaxLine bounds one line of a chaos log. The ledger never writes a longer
// one; a longer one found is skipped with a warning.
const MaxLine = 1 << 20

// Abandoned is a log left by a run that ended without reverting every
// fault (its host crashed or was SIGKILLed).
type Abandoned struct {
	File    string
	Run     Run
	Started time.Time
	// Active are the faults injected and never recorded as reverted.
	Active []journal.Chaos
	// CutShort is the number of the log's last line when the host died
	// writing it (0 when it did not): an injection may be recorded there
	// that cannot be reverted by its handle; a Teardown through a fresh
	// plugin process removes what the dead run left.
	CutShort int
	handles  []string
}

// Describe is a one-line summary, e.g. for the start-up warning.
func (a Abandoned) Describe() string {
	parts := make([]string, len(a.Active))
	for i, c := range a.Active {
		parts[i] = fmt.Sprintf("%s on %s", c.Type, c.Target)
	}
	if a.CutShort > 0 {
		parts = append(parts, "an entry cut short")
	}
	return fmt.Sprintf("%s (plugin %s, started %s)", strings.Join(parts, ", "), a.Run.Plugin, a.Started.Local().Format(time.DateTime))
}

// Survey is what a look at the chaos logs found.
type Survey struct {
	// Abandoned are the logs of runs that are gone with faults (or an
	// entry cut short) outstanding.
	Abandoned []Abandoned
	// Warnings are one line each, naming the file, about what was skipped
	// or moved aside; every other log was still looked at.
	Warnings []string
}

// FindAbandoned is Survey without its warnings.
func FindAbandoned(dir string) ([]Abandoned, error) {
	s, err := SurveyDir(dir)
	return s.Abandoned, err
}

// SurveyDir lists the logs in dir whose run is gone (not locked) and that
// still have faults outstanding, or an entry cut short. Logs of finished
// runs with nothing outstanding are removed; a log still without its run
// line is left to the demohost creating it. One bad file never hides the
// others: what is not a regular file of this user's is skipped, a line
// over MaxLine is skipped, and a file that is not a chaos log at all is
// moved aside (renamed *.jsonl.bad), each with a warning naming the file.
// Only a directory that cannot be read is an error.
func SurveyDir(dir string) (Survey, error) {
	var s Survey
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return s, err
	}
	sort.Strings(files)
	for _, file := range files {
		a, warnings, err := readAbandoned(file)
		s.Warnings = append(s.Warnings, warnings...)
		switch {
		case errors.Is(err, errLocked):
			continue
		case errors.Is(err, errJunk):
			s.Warnings = append(s.Warnings, moveAside(file))
			continue
		case err != nil:
			s.Warnings = append(s.Warnings, fmt.Sprintf("chaos log %s skipped: %v", file, err))
			continue
		}
		if len(a.Active) == 0 && a.CutShort == 0 {
			// A log without its run line may be one another demohost has
			// just created and not yet locked: leave it.
			if a.Run.Plugin != "" {
				os.Remove(file)
			}
			continue
		}
		s.Abandoned = append(s.Abandoned, a)
	}
	return s, nil
}

var (
	errLocked = errors.New("log in use by a running demohost")
	errJunk   = errors.New("not a chaos log")
)

// moveAside renames a file that is not a chaos log out of the way (so it
// is not read again at every start) and says so.
func moveAside(file string) string {
	if err := os.Rename(file, file+".bad"); err != nil {
		return fmt.Sprintf("chaos log %s is not a demohost chaos log and could not be moved aside (%v): remove it", file, err)
	}
	return fmt.Sprintf("chaos log %s is not a demohost chaos log: moved aside to %s", file, file+".bad")
}

// openChaosLog opens a log for reading if it is a regular file of this user's,
// never waiting (a FIFO named *.jsonl would block an open for ever).
func openChaosLog(file string) (*os.File, error) {
	info, err := os.Lstat(file)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", info.Mode().Type())
	}
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	if info, err = f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("not a regular file")
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		f.Close()
		return nil, fmt.Errorf("owned by user %d, not by you: demohost reads only logs it wrote for you", st.Uid)
	}
	return f, nil
}

func readAbandoned(file string) (Abandoned, []string, error) {
	a := Abandoned{File: file}
	f, err := openChaosLog(file)
	if err != nil {
		return a, nil, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return a, nil, errLocked
	}
	var warnings []string
	active := map[string]journal.Chaos{}
	var order []string
	r := bufio.NewReaderSize(f, 64*1024)
	read, bad := 0, 0 // lines read, lines not understood
	for n := 1; ; n++ {
		line, complete, err := readLine(r)
		if err == io.EOF && line == nil {
			break
		}
		if err != nil && err != io.EOF {
			return a, warnings, err
		}
		read++
		if line == nil { // over MaxLine
			warnings = append(warnings, fmt.Sprintf("chaos log %s: line %d is over %d MiB, no line demohost writes: skipped", file, n, MaxLine>>20))
			continue
		}
		var e entry
		var old legacyEntry
		if !complete || json.Unmarshal(line, &e) != nil || json.Unmarshal(line, &old) != nil {
			if !complete && len(bytes.TrimSpace(line)) > 0 {
				a.CutShort = n // the host died writing its last line
			} else {
				bad++
			}
			continue
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
		case "cut": // a recover ended the line cut short (line e.Line)
			a.CutShort = e.Line
		case "teardown": // and then tore down what that run left
			a.CutShort = 0
		default:
			bad++
		}
		if err == io.EOF {
			break
		}
	}
	if a.Run.Plugin == "" && (bad > 0 || a.CutShort > 0) {
		return a, warnings, errJunk // no run line: nothing was injected
	}
	if bad > 0 {
		warnings = append(warnings, fmt.Sprintf("chaos log %s: %d of its %d lines are not chaos log entries: skipped", file, bad, read))
	}
	for _, h := range order {
		if c, ok := active[h]; ok {
			c.Handle = h
			a.Active = append(a.Active, c)
			a.handles = append(a.handles, h)
		}
	}
	return a, warnings, nil
}

// readLine reads one line of at most MaxLine bytes. complete is false for
// a last line without its line break (the host died writing it). A longer
// line is read to its end and returned as nil.
func readLine(r *bufio.Reader) (line []byte, complete bool, err error) {
	var buf []byte
	over := false
	for {
		chunk, err := r.ReadSlice('\n')
		if !over {
			if len(buf)+len(chunk) > MaxLine {
				over, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			if over {
				return nil, false, io.EOF
			}
			if len(buf) == 0 {
				return nil, false, io.EOF
			}
			return buf, false, io.EOF
		case err != nil:
			return nil, false, err
		}
		if over {
			return nil, true, nil
		}
		return bytes.TrimSuffix(buf, []byte("\n")), true, nil
	}
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
// run left them, and Close removes the file once none is left (and, after
// an entry cut short, once TornDown said the plugin tore down). A line cut
// short is ended first, and noted, so what is appended starts a line of its
// own.
func Resume(a Abandoned) (*Ledger, error) {
	f, err := os.OpenFile(a.File, os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("chaos log: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("chaos log %s is being recovered by another demohost", a.File)
	}
	l := &Ledger{f: f, cutShort: a.CutShort > 0}
	if a.CutShort > 0 {
		if _, err := f.WriteString("\n"); err != nil {
			f.Close()
			return nil, fmt.Errorf("chaos log: %w", err)
		}
		if err := l.write(entry{Op: "cut", Line: a.CutShort}); err != nil {
			f.Close()
			return nil, err
		}
	}
	for i, c := range a.Active {
		l.records = append(l.records, c)
		l.handles = append(l.handles, a.handles[i])
	}
	return l, nil
}

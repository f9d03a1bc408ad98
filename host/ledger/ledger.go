// Package ledger is the one owner of fault records. Every fault a run
// injects goes through a Ledger: it calls the plugin, writes the record to
// the run's chaos log on disk before the injection is acknowledged, reverts
// it with a reason from one closed set, and writes that too. The runner,
// the crash path and `demohost recover` all revert through it, and the
// journal's chaos entries are its records. A log left behind by a host that
// died lists what `demohost recover` must revert (see Abandoned).
package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/subject"
)

// Reason says why a fault was reverted. The set is closed.
type Reason string

// Reasons.
const (
	ByDuration Reason = "duration" // the fault's duration ended
	ByChapter  Reason = "chapter"  // a revert_chaos chapter was entered
	ByExit     Reason = "exit"     // the run ended: quit, signal, error, panic
	ByCrash    Reason = "crash"    // the plugin died; a fresh process reverted it
	ByRecover  Reason = "recover"  // `demohost recover`, after the host died
)

// Run says which run a log belongs to, so recover can start its plugin,
// and only the plugin that ran.
type Run struct {
	Plugin string `json:"plugin"` // plugin executable
	// SHA256 (hex) and Owner (user id) are the plugin executable's as it
	// was launched; recover refuses to run it if either changed. Empty in
	// logs of older demohosts.
	SHA256    string            `json:"sha256,omitempty"`
	Owner     int               `json:"owner,omitempty"`
	PluginEnv []string          `json:"plugin_env,omitempty"` // --plugin-env names
	Options   map[string]string `json:"options,omitempty"`    // --set options
	PID       int               `json:"pid"`                  // host pid
}

// entry is one line of a log file.
type entry struct {
	Op  string    `json:"op"` // run | inject | revert
	At  time.Time `json:"at"`
	Run *Run      `json:"run,omitempty"`
	// inject: the record, with its handle; revert: handle, reason, detail.
	Handle string         `json:"handle,omitempty"`
	Chaos  *journal.Chaos `json:"chaos,omitempty"`
	By     Reason         `json:"by,omitempty"`
	Detail string         `json:"detail,omitempty"`
	// cut: the number of a line a recover found cut short.
	Line int `json:"line,omitempty"`
}

// Ledger holds one run's fault records. Its methods are safe for
// concurrent use.
type Ledger struct {
	mu      sync.Mutex
	f       *os.File // nil: records in memory only
	records []journal.Chaos
	handles []string // handle of records[i] (not in the journal)
	// cutShort: the log has an entry cut short that no Teardown has
	// answered for yet (see Resume, TornDown).
	cutShort bool
}

// New returns a ledger that keeps records in memory only (tests, and runs
// that cannot outlive their host anyway).
func New() *Ledger { return &Ledger{} }

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

// Open starts a ledger whose records are also written to a new log file in
// dir (0600, in a directory of mode 0700: the logs say what recover will
// run). The file is locked while the run lives, so no other demohost takes
// it for abandoned.
func Open(dir string, run Run) (*Ledger, error) {
	if err := PrivateDir(dir); err != nil {
		return nil, fmt.Errorf("chaos log: %w", err)
	}
	name := fmt.Sprintf("%s-%d.jsonl", time.Now().UTC().Format("20060102T150405.000000000"), os.Getpid())
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("chaos log: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("chaos log: lock %s: %w", f.Name(), err)
	}
	l := &Ledger{f: f}
	if err := l.write(entry{Op: "run", Run: &run}); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return l, nil
}

// Path is the log file's path ("" for a ledger in memory).
func (l *Ledger) Path() string {
	if l.f == nil {
		return ""
	}
	return l.f.Name()
}

// Inject asks p for fault f (chapter is the chapter's index) and records
// it. The record is on disk before Inject returns; if it cannot be written,
// the fault is reverted at once and Inject fails: a fault the log does not
// know of could outlive a crashed host.
func (l *Ledger) Inject(ctx context.Context, p subject.Plugin, chapter int, f subject.Fault) (int, journal.Chaos, error) {
	inj, err := p.InjectChaos(ctx, f)
	if err != nil {
		return 0, journal.Chaos{}, err
	}
	now := time.Now()
	rec := journal.Chaos{
		Name: f.Name, Type: f.Kind, Target: inj.Target, RequestedTarget: f.Target,
		Params: f.Params, Description: f.Description, DurationMS: f.Duration.Milliseconds(),
		Handle: inj.Handle, Chapter: chapter, Detail: inj.Detail, InjectedAt: now,
	}
	if rec.Target == "" {
		rec.Target = f.Target
	}
	l.mu.Lock()
	id := len(l.records)
	l.records = append(l.records, rec)
	l.handles = append(l.handles, inj.Handle)
	err = l.write(entry{Op: "inject", Handle: inj.Handle, Chaos: &rec})
	l.mu.Unlock()
	if err != nil {
		detail, rerr := l.Revert(ctx, p, id, ByExit)
		// The revert's own line may fail to be written too: what counts is
		// whether the plugin undid the fault.
		if l.Record(id).RevertedAt == nil {
			return id, rec, fmt.Errorf("%w; the fault could not be reverted either (%v): run `demohost recover` or revert it by hand", err, rerr)
		}
		return id, rec, fmt.Errorf("%w; the fault was reverted at once (%s)", err, detail)
	}
	return id, rec, nil
}

// Revert asks p to undo fault id and records the outcome with why. It
// returns the plugin's line saying what it did. Reverting a fault that was
// reverted already does nothing; one whose revert failed may be tried
// again (by a fresh plugin process, after a crash).
func (l *Ledger) Revert(ctx context.Context, p subject.Plugin, id int, why Reason) (string, error) {
	l.mu.Lock()
	if l.records[id].RevertedAt != nil {
		l.mu.Unlock()
		return "", nil
	}
	rec := l.records[id]
	handle := l.handles[id]
	l.mu.Unlock()

	detail, err := p.RevertChaos(ctx, subject.Revert{Handle: handle, Fault: FaultOf(rec), Target: rec.Target})

	l.mu.Lock()
	defer l.mu.Unlock()
	r := &l.records[id]
	r.RevertedBy = string(why)
	if err != nil {
		r.RevertError = err.Error()
		return "", err
	}
	now := time.Now()
	r.RevertError, r.RevertedAt, r.RevertDetail = "", &now, detail
	if werr := l.write(entry{Op: "revert", Handle: handle, By: why, Detail: detail}); werr != nil {
		return detail, werr
	}
	return detail, nil
}

// Unreverted lists the ids of the faults not reverted yet, oldest first.
func (l *Ledger) Unreverted() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []int
	for id, r := range l.records {
		if r.RevertedAt == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// Record returns fault id's record.
func (l *Ledger) Record(id int) journal.Chaos {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.records[id]
}

// Fill makes j's chaos entries the ledger's records: the one place the
// journal's faults come from.
func (l *Ledger) Fill(j *journal.Journal) { j.Chaos = l.Records() }

// Records returns every record, oldest first: the journal's chaos entries.
func (l *Ledger) Records() []journal.Chaos {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]journal.Chaos{}, l.records...)
}

// TornDown records that the plugin tore down what the log's run left, which
// answers for an entry cut short (see Resume).
func (l *Ledger) TornDown() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.write(entry{Op: "teardown"}); err != nil {
		return err
	}
	l.cutShort = false
	return nil
}

// CutShort reports whether the log has an entry cut short that no Teardown
// has answered for.
func (l *Ledger) CutShort() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cutShort
}

// Close ends the run's log: the file is removed when every fault was
// reverted (and an entry cut short was answered for), and kept for
// `demohost recover` otherwise.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	unreverted := l.cutShort
	for _, r := range l.records {
		if r.RevertedAt == nil {
			unreverted = true
		}
	}
	if !unreverted {
		os.Remove(l.f.Name())
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// write appends e to the log and syncs it; callers hold l.mu.
func (l *Ledger) write(e entry) error {
	if l.f == nil {
		return nil
	}
	e.At = time.Now().UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("chaos log: %w", err)
	}
	if len(b) >= MaxLine {
		return fmt.Errorf("chaos log %s: a record of %d bytes is more than a log line may hold", l.f.Name(), len(b))
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("chaos log: %w", err) // names the file
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("chaos log: %w", err)
	}
	return nil
}

// PrivateDir makes dir, and any parent it creates, with mode 0700; a dir
// that exists already and belongs to this user is made 0700 too.
func PrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) == os.Getuid() && info.Mode().Perm() != 0o700 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}

// FaultOf rebuilds the fault a record was injected as.
func FaultOf(c journal.Chaos) subject.Fault {
	return subject.Fault{
		Kind: c.Type, Name: c.Name, Target: c.RequestedTarget, Description: c.Description,
		Duration: time.Duration(c.DurationMS) * time.Millisecond, Params: c.Params,
	}
}

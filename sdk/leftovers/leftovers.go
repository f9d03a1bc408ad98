// Package leftovers is a plugin's crash bookkeeping. A plugin process
// records each process it starts — by pid and start time, so a reused pid
// is never taken for it — in a book named after itself, in a directory
// every process of the subject shares. A later plugin process, in Setup or
// in a Teardown without Setup (the host calls one after a crash), reaps
// what plugin processes that are gone left behind: it resumes and kills
// their processes and throws their books away. Books of plugin processes
// still running are never touched, so demos running side by side keep
// their processes. Containers are the docker module's part
// (docker.Owned, docker.ReapLeftovers), so plugins without Docker do not
// pull in its client.
//
// A process started with sdk/process dies with its plugin process on a
// crash (parent-death signal); the book still matters when that signal
// cannot fire (the child was re-parented, or is a daemon) and for anything
// else a plugin starts.
package leftovers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/demohost/demohost/sdk/process"
)

// DefaultDir is where the books of subject's plugin processes go:
// $XDG_STATE_HOME/demohost/SUBJECT (XDG_STATE_HOME defaults to
// ~/.local/state).
func DefaultDir(subject string) string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "demohost", subject)
}

// Self is this plugin process, the owner of what it starts.
func Self() process.Identity {
	id, err := process.IdentityOf(os.Getpid())
	if err != nil {
		return process.Identity{Pid: os.Getpid()}
	}
	return id
}

// OwnerID names an owner in file names and container labels: "PID-START".
func OwnerID(owner process.Identity) string { return fmt.Sprintf("%d-%d", owner.Pid, owner.Start) }

// ParseOwnerID reads what OwnerID writes.
func ParseOwnerID(s string) (process.Identity, error) {
	var id process.Identity
	if _, err := fmt.Sscanf(s, "%d-%d", &id.Pid, &id.Start); err != nil || id.Pid <= 0 || OwnerID(id) != s {
		return process.Identity{}, fmt.Errorf("bad owner %q: want PID-START", s)
	}
	return id, nil
}

// Book is one plugin process's record of the processes it started. Its
// methods are safe for concurrent use.
type Book struct {
	dir   string
	owner process.Identity
	mu    sync.Mutex
}

// Open returns this plugin process's book in dir (DefaultDir of the
// subject, usually). Nothing is written until Add. The book is the file
// "plugin-PID-START.state" (OwnerID) in dir, one "NAME pid=N,start=N" line
// per process.
func Open(dir string) *Book { return OpenFor(dir, Self()) }

// OpenFor is Open for the book of owner, for a Subject that keeps its owner
// itself (tests that play several plugin processes in one).
func OpenFor(dir string, owner process.Identity) *Book { return &Book{dir: dir, owner: owner} }

// path is "plugin-PID-START.state" in the book's directory.
func (b *Book) path() string {
	return filepath.Join(b.dir, "plugin-"+OwnerID(b.owner)+".state")
}

// Add records a process this plugin process started, under name (for
// messages: "redis", "node-2"). Call it as soon as the process runs: a
// crash before Add leaves it unknown.
func (b *Book) Add(name string, id process.Identity) error {
	if strings.ContainsAny(name, " \n") {
		return fmt.Errorf("leftovers: name %q: want no spaces or newlines", name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return fmt.Errorf("leftovers: %w", err)
	}
	f, err := os.OpenFile(b.path(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("leftovers: %w", err)
	}
	_, err = fmt.Fprintf(f, "%s %s\n", name, id)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("leftovers: record %s: %w", name, err)
	}
	return nil
}

// Clear forgets what this plugin process recorded: call it once it has
// stopped all of it (Teardown).
func (b *Book) Clear() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := os.Remove(b.path()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("leftovers: %w", err)
	}
	return nil
}

// Reap stops every process recorded by plugin processes that are gone (a
// stopped one is resumed first, so it dies rather than stays frozen),
// says so through warn, one line each (pass progress.Warning of Setup or
// Teardown), and removes their books. Books of plugin processes still
// running, this one's included, are left alone.
func (b *Book) Reap(warn func(string)) error {
	files, err := filepath.Glob(filepath.Join(b.dir, "plugin-*.state"))
	if err != nil {
		return fmt.Errorf("leftovers: %w", err)
	}
	var errs []error
	for _, f := range files {
		owner, err := ParseOwnerID(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "plugin-"), ".state"))
		if err != nil || owner.Alive() {
			continue // not a book, or a plugin process running right now
		}
		content, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("leftovers: %w", err))
			continue
		}
		if err := stop(string(content), warn); err != nil {
			errs = append(errs, err)
			continue // keep the book: the next Reap tries again
		}
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("leftovers: %w", err))
		}
	}
	return errors.Join(errs...)
}

// stop kills the processes of one book that still run.
func stop(book string, warn func(string)) error {
	for line := range strings.SplitSeq(strings.TrimSpace(book), "\n") {
		name, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		id, err := process.ParseIdentity(rest)
		if err != nil || !id.Alive() {
			continue
		}
		wasStopped := id.Stopped()
		_ = id.Signal(syscall.SIGCONT)
		if err := id.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, process.ErrGone) {
			return fmt.Errorf("leftovers: stop %s (pid %d) of a plugin process that is gone: %w", name, id.Pid, err)
		}
		msg := fmt.Sprintf("stopped leftover %s (pid %d) from an earlier run that did not finish", name, id.Pid)
		if wasStopped {
			msg += "; it was still paused"
		}
		warn(msg)
	}
	return nil
}

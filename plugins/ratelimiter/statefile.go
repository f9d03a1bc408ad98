package ratelimiter

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/process"
)

// stateFile records the processes one plugin process started, in a file
// named after that plugin process (its identity), inside a directory shared
// by every run of the subject. Setup reconciles only the files of plugin
// processes that are gone (a crash): demos running at the same time never
// touch each other's processes.
type stateFile struct {
	dir   string
	owner process.Identity // the plugin process that starts the processes
	mu    sync.Mutex
}

// defaultStateDir is $XDG_STATE_HOME/demohost/ratelimiter (XDG_STATE_HOME
// defaults to ~/.local/state).
func defaultStateDir() string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "demohost", "ratelimiter")
}

// self is this plugin process' identity.
func self() process.Identity {
	id, err := process.IdentityOf(os.Getpid())
	if err != nil {
		return process.Identity{Pid: os.Getpid()}
	}
	return id
}

func (s *stateFile) path() string {
	return filepath.Join(s.dir, fmt.Sprintf("plugin-%d-%d.state", s.owner.Pid, s.owner.Start))
}

// add appends one line "name pid=N,start=N".
func (s *stateFile) add(name string, id process.Identity) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	f, err := os.OpenFile(s.path(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "%s %s\n", name, id)
	return err
}

// clear forgets this plugin process' record (its processes are stopped).
func (s *stateFile) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = os.Remove(s.path())
}

// reconcile resumes and kills the processes recorded by plugin processes
// that no longer exist, reports each, and removes their records.
func (s *stateFile) reconcile(progress sdk.Progress) error {
	files, err := filepath.Glob(filepath.Join(s.dir, "plugin-*.state"))
	if err != nil {
		return fmt.Errorf("read state dir: %w", err)
	}
	for _, f := range files {
		var owner process.Identity
		if _, err := fmt.Sscanf(filepath.Base(f), "plugin-%d-%d.state", &owner.Pid, &owner.Start); err != nil {
			continue
		}
		if owner.Alive() {
			continue // a demo running right now
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("read state file: %w", err)
		}
		if err := stopLeftovers(string(b), progress); err != nil {
			return err
		}
		_ = os.Remove(f)
	}
	return nil
}

func stopLeftovers(record string, progress sdk.Progress) error {
	for _, line := range strings.Split(strings.TrimSpace(record), "\n") {
		name, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		id, err := process.ParseIdentity(rest)
		if err != nil || !id.Alive() {
			continue
		}
		wasPaused := id.Stopped()
		_ = id.Signal(syscall.SIGCONT)
		if err := id.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, process.ErrGone) {
			return fmt.Errorf("stop leftover %s (%s): %w", name, id, err)
		}
		msg := fmt.Sprintf("stopped leftover %s (pid %d) from an earlier run that did not finish", name, id.Pid)
		if wasPaused {
			msg += "; it was still paused"
		}
		progress.Warning(msg)
	}
	return nil
}

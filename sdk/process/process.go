// Package process is the local-process runtime for subject plugins: it starts
// a child on loopback that never outlives the plugin (parent-death SIGKILL,
// its own process group, output to a log file) and gives it the chaos verbs
// a demo needs: Pause (SIGSTOP), Resume (SIGCONT), Kill (SIGKILL) and Start
// again.
//
// An Identity (pid plus kernel start time) names a process safely across
// plugin restarts: a fresh plugin can resume or kill a process it started
// earlier without ever touching an unrelated process that reused the pid.
package process

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// State is what a managed process is doing.
type State int

// States of a managed process.
const (
	NotStarted State = iota
	Running
	Stopped // SIGSTOPped
	Exited
)

func (s State) String() string {
	switch s {
	case Running:
		return "running"
	case Stopped:
		return "stopped"
	case Exited:
		return "exited"
	}
	return "not started"
}

// Spec says how to start a process.
type Spec struct {
	Name    string   // for messages, e.g. "redis"
	Path    string   // executable
	Args    []string // arguments, without the executable
	Env     []string // extra environment (appended to the plugin's)
	Dir     string   // working directory (default: the plugin's)
	LogPath string   // stdout and stderr are appended here (default: discarded)
}

// Process is one managed child. Its methods are safe for concurrent use.
type Process struct {
	spec Spec

	mu     sync.Mutex
	cmd    *exec.Cmd
	id     Identity
	state  State
	exit   error
	exited chan struct{} // closed when the current run exits
}

// New returns a process that is not started yet.
func New(spec Spec) *Process {
	if spec.Name == "" {
		spec.Name = spec.Path
	}
	return &Process{spec: spec}
}

// Name is the spec's name.
func (p *Process) Name() string { return p.spec.Name }

// Start runs the process. Starting a process that runs is an error; one that
// exited (e.g. after Kill) is started again.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == Running || p.state == Stopped {
		return fmt.Errorf("start %s: already running as pid %d", p.spec.Name, p.id.Pid)
	}
	cmd := exec.Command(p.spec.Path, p.spec.Args...)
	cmd.Dir = p.spec.Dir
	cmd.Env = append(os.Environ(), p.spec.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // Ctrl-C in the terminal reaches the plugin, not its children
		Pdeathsig: syscall.SIGKILL, // the child dies with the plugin
	}
	var logFile *os.File
	if p.spec.LogPath != "" {
		f, err := os.OpenFile(p.spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("start %s: open log: %w", p.spec.Name, err)
		}
		logFile = f
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := startOnLockedThread(cmd); err != nil {
		if logFile != nil {
			logFile.Close()
		}
		return fmt.Errorf("start %s: %w", p.spec.Name, err)
	}
	id, err := IdentityOf(cmd.Process.Pid)
	if err != nil {
		id = Identity{Pid: cmd.Process.Pid}
	}
	exited := make(chan struct{})
	p.cmd, p.id, p.state, p.exit, p.exited = cmd, id, Running, nil, exited
	go func() {
		err := cmd.Wait()
		if logFile != nil {
			logFile.Close()
		}
		p.mu.Lock()
		if p.cmd == cmd {
			p.state, p.exit = Exited, err
		}
		p.mu.Unlock()
		close(exited)
	}()
	return nil
}

// Identity names the current (or last) run; zero before Start.
func (p *Process) Identity() Identity {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.id
}

// Pid is the current (or last) run's pid; 0 before Start.
func (p *Process) Pid() int { return p.Identity().Pid }

// State says whether the process runs, is stopped or has exited.
func (p *Process) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// ExitErr is how the last run ended (nil while it runs or after a clean exit).
func (p *Process) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

// Pause freezes the process with SIGSTOP.
func (p *Process) Pause() error { return p.signal(syscall.SIGSTOP, Stopped) }

// Resume continues a paused process with SIGCONT. Resuming a running
// process is not an error.
func (p *Process) Resume() error { return p.signal(syscall.SIGCONT, Running) }

func (p *Process) signal(sig syscall.Signal, next State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != Running && p.state != Stopped {
		return fmt.Errorf("%s %s: not running (%s)", sigName(sig), p.spec.Name, p.state)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("%s %s (pid %d): %w", sigName(sig), p.spec.Name, p.id.Pid, err)
	}
	p.state = next
	return nil
}

// Kill sends SIGKILL and waits until the process is gone. Killing a process
// that is not running is not an error.
func (p *Process) Kill() error {
	p.mu.Lock()
	if p.state != Running && p.state != Stopped {
		p.mu.Unlock()
		return nil
	}
	exited := p.exited
	err := p.cmd.Process.Signal(syscall.SIGKILL)
	p.mu.Unlock()
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s (pid %d): %w", p.spec.Name, p.Pid(), err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("kill %s (pid %d): still running 5s after SIGKILL", p.spec.Name, p.Pid())
	}
}

// Stop asks the process to end with SIGTERM (after SIGCONT, so a paused
// process can act on it) and falls back to SIGKILL after grace.
func (p *Process) Stop(grace time.Duration) error {
	p.mu.Lock()
	if p.state != Running && p.state != Stopped {
		p.mu.Unlock()
		return nil
	}
	exited := p.exited
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	p.mu.Unlock()
	select {
	case <-exited:
		return nil
	case <-time.After(grace):
		return p.Kill()
	}
}

// Exited is closed when the current run ends.
func (p *Process) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.exited
}

func sigName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGSTOP:
		return "pause"
	case syscall.SIGCONT:
		return "resume"
	}
	return sig.String()
}

// The kernel sends Pdeathsig when the *thread* that forked a child ends, not
// the process (go.dev/issue/27505), and Go may end a thread. Every child is
// therefore forked from one goroutine locked to its thread for the life of
// the process: the signal then comes only when the plugin itself dies. It is
// the package's only shared state, because the property is process-wide.
var (
	spawnOnce sync.Once
	spawns    chan spawnRequest
)

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func startOnLockedThread(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawns = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range spawns {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawns <- spawnRequest{cmd: cmd, done: done}
	return <-done
}

// Package watch runs the attached processes of --watch NAME=COMMAND: each
// command runs under `sh -c` in a process group of its own, its stdout and
// stderr lines go into a bounded ring buffer the TUI shows, and Stop ends
// the whole group (SIGTERM, then SIGKILL).
package watch

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultLines is how many lines a Process keeps when Start gets 0.
const DefaultLines = 500

// maxLine caps one line; longer output is split.
const maxLine = 4096

// Process is one running --watch command.
type Process struct {
	Name    string
	Command string

	cmd      *exec.Cmd
	out      *os.File // read end of the stdout+stderr pipe
	changed  chan struct{}
	readDone chan struct{}
	exited   chan struct{}

	mu      sync.Mutex
	ring    *Ring
	waitErr error
	stopped bool
}

// Start runs command with `sh -c` in a new process group, keeping its last
// lines (DefaultLines when lines is 0) of stdout and stderr.
func Start(name, command string, lines int) (*Process, error) {
	if lines <= 0 {
		lines = DefaultLines
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("watch %s: pipe: %w", name, err)
	}
	cmd := exec.Command("sh", "-c", command)
	cmd.Stdin = nil
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("watch %s: start %q: %w", name, command, err)
	}
	w.Close() // the child holds its own copy
	p := &Process{
		Name: name, Command: command,
		cmd: cmd, out: r,
		changed:  make(chan struct{}, 1),
		readDone: make(chan struct{}),
		exited:   make(chan struct{}),
		ring:     NewRing(lines),
	}
	go p.read()
	go p.wait()
	return p, nil
}

// Changed receives a value after new output or the exit (coalesced: one
// pending value at most).
func (p *Process) Changed() <-chan struct{} { return p.changed }

// Lines returns the kept output lines, oldest first.
func (p *Process) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ring.Lines()
}

// Exited says whether the command has ended, and how ("exit status 1", or
// "" for success).
func (p *Process) Exited() (bool, string) {
	select {
	case <-p.exited:
	default:
		return false, ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr != nil {
		return true, p.waitErr.Error()
	}
	return true, ""
}

// Pid is the process id of `sh`, which is also the process group id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop ends the process group: SIGTERM, then SIGKILL after grace (if the
// group is still there). It waits for the command to be reaped and the
// output to be read. Calling it again does nothing.
func (p *Process) Stop(grace time.Duration) {
	p.mu.Lock()
	already := p.stopped
	p.stopped = true
	p.mu.Unlock()
	if already {
		<-p.exited
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	if !waitGroupGone(pgid, grace) {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		waitGroupGone(pgid, grace) // dying takes a moment
	}
	<-p.exited
	select {
	case <-p.readDone:
	case <-time.After(grace):
		// A process outside the group still holds the pipe; stop reading.
		p.out.Close()
		<-p.readDone
	}
}

func waitGroupGone(pgid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for GroupAlive(pgid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// GroupAlive says whether process group pgid has a member that is not a
// zombie (zombies are dead; only their parent's wait removes them).
func GroupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil { // no procfs: ask the kernel, zombies included
		return syscall.Kill(-pgid, 0) == nil
	}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces and parens.
		rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
		f := strings.Fields(rest)
		if len(f) >= 3 && f[0] != "Z" && f[0] != "X" && f[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}

func (p *Process) wait() {
	err := p.cmd.Wait()
	p.mu.Lock()
	if p.stopped {
		err = nil // ended by Stop: not news
	}
	p.waitErr = err
	p.mu.Unlock()
	close(p.exited)
	p.notify()
}

func (p *Process) read() {
	defer close(p.readDone)
	defer p.out.Close()
	br := bufio.NewReaderSize(p.out, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			p.mu.Lock()
			p.ring.Add(Clean(string(line)))
			p.mu.Unlock()
			p.notify()
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				p.mu.Lock()
				p.ring.Add(fmt.Sprintf("[watch: read output: %v]", err))
				p.mu.Unlock()
			}
			return
		}
	}
}

func (p *Process) notify() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// Clean makes one line of terminal output safe to draw: it drops the line
// ending and ANSI escape sequences, keeps what follows the last carriage
// return (progress bars redraw that way), expands tabs and drops other
// control characters.
func Clean(line string) string {
	line = strings.TrimRight(line, "\r\n")
	if i := strings.LastIndexByte(line, '\r'); i >= 0 {
		line = line[i+1:]
	}
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == 0x1b: // ESC: skip a CSI (ESC [ … final) or a two-byte sequence
			if i+1 < len(line) && line[i+1] == '[' {
				i += 2
				for i < len(line) && (line[i] < 0x40 || line[i] > 0x7e) {
					i++
				}
			} else if i+1 < len(line) && line[i+1] == ']' { // OSC: to BEL or ST
				for i < len(line) && line[i] != '\a' && !(line[i] == '\\' && line[i-1] == 0x1b) {
					i++
				}
			} else if i+1 < len(line) && strings.IndexByte("()*+", line[i+1]) >= 0 {
				i += 2 // charset designation: ESC ( B
			} else {
				i++
			}
		case c == '\t':
			b.WriteString("    ")
		case c < 0x20 || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

// Ring keeps the last n lines.
type Ring struct {
	lines []string
	next  int
	full  bool
}

// NewRing returns a ring of n lines (n ≥ 1).
func NewRing(n int) *Ring { return &Ring{lines: make([]string, max(n, 1))} }

// Add appends a line, dropping the oldest when full.
func (r *Ring) Add(line string) {
	r.lines[r.next] = line
	r.next = (r.next + 1) % len(r.lines)
	if r.next == 0 {
		r.full = true
	}
}

// Lines returns the lines, oldest first.
func (r *Ring) Lines() []string {
	if !r.full {
		return append([]string(nil), r.lines[:r.next]...)
	}
	return append(append([]string(nil), r.lines[r.next:]...), r.lines[:r.next]...)
}

package process

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Identity names one process run: its pid and the kernel's start time for it
// (clock ticks since boot, field 22 of /proc/PID/stat). A pid alone can be
// reused by an unrelated process; the pair cannot.
type Identity struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

func (id Identity) String() string { return fmt.Sprintf("pid=%d,start=%d", id.Pid, id.Start) }

// ParseIdentity reads the form String writes ("pid=1234,start=5678").
func ParseIdentity(s string) (Identity, error) {
	var id Identity
	if _, err := fmt.Sscanf(s, "pid=%d,start=%d", &id.Pid, &id.Start); err != nil || id.Pid <= 0 {
		return Identity{}, fmt.Errorf("bad process identity %q: want pid=N,start=N", s)
	}
	return id, nil
}

// ErrGone means the process of an Identity no longer exists (or its pid now
// belongs to another process).
var ErrGone = errors.New("process is gone")

// IdentityOf reads the identity of a live pid.
func IdentityOf(pid int) (Identity, error) {
	start, _, err := readStat(pid)
	if err != nil {
		return Identity{}, err
	}
	return Identity{Pid: pid, Start: start}, nil
}

// Alive reports whether the very process of id still exists (a zombie does
// not count).
func (id Identity) Alive() bool {
	start, state, err := readStat(id.Pid)
	return err == nil && start == id.Start && state != 'Z' && state != 'X'
}

// Stopped reports whether the process of id exists and is stopped by a signal.
func (id Identity) Stopped() bool {
	start, state, err := readStat(id.Pid)
	return err == nil && start == id.Start && state == 'T'
}

// Signal sends sig to the process of id, only if it is still that process.
// It returns ErrGone when it is not.
func (id Identity) Signal(sig syscall.Signal) error {
	if !id.Alive() {
		return fmt.Errorf("signal %s: %w", id, ErrGone)
	}
	if err := syscall.Kill(id.Pid, sig); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("signal %s: %w", id, ErrGone)
		}
		return fmt.Errorf("signal %s: %w", id, err)
	}
	return nil
}

// readStat returns the start time and state letter from /proc/PID/stat.
func readStat(pid int) (start uint64, state byte, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	// The command name (field 2) may hold spaces and parentheses: fields
	// after it start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("pid %d: unreadable /proc stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); field 22 (starttime) is fields[19].
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("pid %d: short /proc stat", pid)
	}
	start, err = strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("pid %d: bad start time: %w", pid, err)
	}
	return start, fields[0][0], nil
}

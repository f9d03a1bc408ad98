package testkit

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Buffer collects text written from several goroutines (a log that
// go-plugin writes while the test reads it).
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// ProcState is the state letter of pid in /proc/PID/stat (R, S, T, Z...),
// "" when there is no such process.
func ProcState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces and parentheses
	if i < 0 {
		return ""
	}
	_, after, _ := strings.Cut(string(b[i:]), ") ")
	state, _, _ := strings.Cut(after, " ")
	return state
}

// Processes lists the live processes (zombies left out) for which match
// holds, this one excepted.
func Processes(match func(pid int) bool) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && pid != os.Getpid() && !ProcessEnded(pid) && match(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// ProcessEnded reports whether process pid has ended: it is gone, or a
// zombie waiting to be reaped (a plugin whose host died is re-parented).
func ProcessEnded(pid int) bool {
	st := ProcState(pid)
	return st == "" || st == "Z"
}

// ProcessesOf lists the live processes running the executable at path.
func ProcessesOf(path string) []int {
	return Processes(func(pid int) bool {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		return err == nil && target == path
	})
}

package conform

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/sdk/process"
)

// task is one process as /proc shows it.
type task struct {
	id    process.Identity
	ppid  int
	comm  string
	state byte // R, S, T (stopped), Z …
}

func (t task) String() string {
	s := fmt.Sprintf("pid %d (%s", t.id.Pid, t.comm)
	if t.state == 'T' {
		s += ", stopped"
	}
	return s + ")"
}

// readTask reads /proc/PID/stat.
func readTask(pid int) (task, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return task{}, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return task{}, false
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 20 {
		return task{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	start, _ := strconv.ParseUint(f[19], 10, 64)
	return task{id: process.Identity{Pid: pid, Start: start}, ppid: ppid, comm: s[open+1 : end], state: f[0][0]}, true
}

// descendants lists every live process below pid (children, their
// children, …), by parent pid.
func descendants(pid int) []task {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]task{}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if t, ok := readTask(n); ok && t.state != 'Z' && t.state != 'X' {
			children[t.ppid] = append(children[t.ppid], t)
		}
	}
	var out []task
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c.id.Pid)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id.Pid < out[j].id.Pid })
	return out
}

// survivors waits up to d for every process of ts to be gone and returns
// those still alive, with their state as of now.
func survivors(ts []task, d time.Duration) []task {
	deadline := time.Now().Add(d)
	for {
		var left []task
		for _, t := range ts {
			if now, ok := readTask(t.id.Pid); ok && now.id == t.id && now.state != 'Z' && now.state != 'X' {
				left = append(left, now)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(pollInterval)
	}
}

// killAll ends processes a plugin left behind (each only if it is still
// the same process): SIGCONT for a stopped one, then SIGKILL.
func killAll(ts []task) {
	for _, t := range ts {
		_ = t.id.Signal(syscall.SIGCONT)
		_ = t.id.Signal(syscall.SIGKILL)
	}
}

// tasks joins processes for a line.
func tasks(ts []task) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return list(s)
}

// becomeSubreaper makes this process adopt its orphaned descendants, so a
// plugin whose host conform killed becomes conform's child and conform can
// learn how it ended.
func becomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// reap collects an adopted child that has ended and says how it ended;
// false when pid is not (or no longer) a child that ended.
func reap(pid int) (pluginhost.Exit, bool) {
	var ws syscall.WaitStatus
	got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	if err != nil || got != pid {
		return pluginhost.Exit{}, false
	}
	if ws.Signaled() {
		return pluginhost.Exit{Signal: ws.Signal()}, true
	}
	return pluginhost.Exit{Code: ws.ExitStatus()}, true
}

package pluginhost

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdPath names an open file of the process itself, for exec.
const fdPath = "/proc/self/fd/%d"

// processAttr puts the plugin in a session of its own, which is also its
// own process group, with no controlling terminal: it cannot open /dev/tty,
// and a terminal's Ctrl-C does not reach it or its children (e.g.
// redis-server: the host reverts first). The kernel sends it SIGTERM if the
// host dies.
func processAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
}

// processEnded reports whether child pid has exited, without reaping it.
func processEnded(pid int) bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil)
	return err != nil || info.Signo == int32(unix.SIGCHLD)
}

// processExit reports, without reaping it, whether child pid has ended and
// how.
func processExit(pid int) (Exit, bool) {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil)
	if err != nil || info.Signo != int32(unix.SIGCHLD) {
		return Exit{}, false
	}
	return exitOf(&info), true
}

// sigchld is the start of a siginfo_t for SIGCHLD: the fields x/sys leaves
// opaque (si_pid, si_uid, si_status follow the three ints).
type sigchld struct {
	Signo, Errno, Code, _ int32
	Pid                   int32
	UID                   uint32
	Status                int32
}

// si_code values of SIGCHLD (x/sys does not name them).
const (
	cldKilled = 2
	cldDumped = 3
)

// exitOf reads how a child ended from its SIGCHLD siginfo.
func exitOf(info *unix.Siginfo) Exit {
	c := (*sigchld)(unsafe.Pointer(info))
	switch c.Code {
	case cldKilled, cldDumped:
		return Exit{Signal: syscall.Signal(c.Status)}
	}
	return Exit{Code: int(c.Status)}
}

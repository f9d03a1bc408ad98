package pluginhost

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// processAttr puts the plugin in its own process group (a terminal's Ctrl-C
// must not reach its children, e.g. redis-server: the host reverts first)
// and has the kernel send it SIGTERM if the host dies.
func processAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// processEnded reports whether child pid has exited, without reaping it.
func processEnded(pid int) bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil)
	return err != nil || info.Signo == int32(unix.SIGCHLD)
}

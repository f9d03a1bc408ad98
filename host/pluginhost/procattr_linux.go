package pluginhost

import "syscall"

// processAttr puts the plugin in its own process group (a terminal's Ctrl-C
// must not reach its children, e.g. redis-server: the host reverts first)
// and has the kernel send it SIGTERM if the host dies.
func processAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

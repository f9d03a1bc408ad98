//go:build !linux

package pluginhost

import "syscall"

// fdPath names an open file of the process itself, for exec.
const fdPath = "/dev/fd/%d"

// processAttr puts the plugin in a session (and process group) of its own,
// with no controlling terminal; without a parent-death signal, sdk.Serve's
// parent watch ends it if the host dies.
func processAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}

// processEnded is answered by go-plugin alone on this system.
func processEnded(int) bool { return false }

// processExit is not known on this system.
func processExit(int) (Exit, bool) { return Exit{}, false }

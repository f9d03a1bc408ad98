//go:build !linux

package pluginhost

import "syscall"

// processAttr puts the plugin in its own process group; without a
// parent-death signal, sdk.Serve's parent watch ends it if the host dies.
func processAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// processEnded is answered by go-plugin alone on this system.
func processEnded(int) bool { return false }

// processExit is not known on this system.
func processExit(int) (Exit, bool) { return Exit{}, false }

package pluginhost

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exit is how a plugin process ended: its exit code, or the signal that
// killed it.
type Exit struct {
	Code   int
	Signal syscall.Signal // 0 when the process exited by itself
}

func (e Exit) String() string {
	if e.Signal != 0 {
		return "killed by " + unix.SignalName(e.Signal)
	}
	return fmt.Sprintf("exited with code %d", e.Code)
}

// ExitStatus reports whether the plugin process has ended and how, without
// reaping it (go-plugin does that). Once go-plugin has reaped it, ok is
// true and known says whether the exit could still be read.
func (p *Plugin) ExitStatus() (e Exit, ok bool) {
	if e, ok := processExit(p.PID()); ok {
		return e, true
	}
	if !p.client.Exited() { // Exited orders the read of ProcessState after go-plugin's Wait
		return Exit{}, false
	}
	if ws, isWS := p.cmd.ProcessState.Sys().(syscall.WaitStatus); isWS && ws.Signaled() {
		return Exit{Signal: ws.Signal()}, true
	}
	return Exit{Code: p.cmd.ProcessState.ExitCode()}, true
}

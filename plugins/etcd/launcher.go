package etcd

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"github.com/vishvananda/netns"
)

// RunInNamespace is the plugin executable's `netns-exec NS PATH ARGS…`
// mode: it moves into the named network namespace and executes PATH there,
// keeping its pid (so the plugin's process identity and parent-death signal
// hold for the member it starts). It returns only on failure.
func RunInNamespace(args []string) error {
	if len(args) < 2 {
		return errors.New("usage: netns-exec NAMESPACE PATH [ARG…]")
	}
	runtime.LockOSThread() // setns applies to this thread, and exec runs from it
	ns, err := netns.GetFromName(args[0])
	if err != nil {
		return fmt.Errorf("namespace %s: %w", args[0], err)
	}
	if err := netns.Set(ns); err != nil {
		return fmt.Errorf("enter namespace %s: %w", args[0], err)
	}
	return fmt.Errorf("exec %s: %w", args[1], syscall.Exec(args[1], args[1:], os.Environ()))
}

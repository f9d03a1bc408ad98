package etcd

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"github.com/demohost/demohost/sdk/process"
)

// node runs one member: a child process (local runtime) or a container
// (docker runtime). Its methods are safe for concurrent use and the state
// queries are cheap: the monitor asks them many times a second.
type node interface {
	// Start starts the member, or starts it again on its data.
	Start(ctx context.Context) error
	// Kill sends SIGKILL and waits until the member is gone.
	Kill(ctx context.Context) error
	// Pause freezes the member; Resume thaws it.
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
	// Stop ends the member for good (teardown).
	Stop(ctx context.Context) error
	// Running reports whether it runs (frozen or not); Frozen whether it is
	// frozen.
	Running() bool
	Frozen() bool
	// Exited is closed when the current run ends; it may never close when
	// the runtime cannot tell (the status probes notice instead).
	Exited() <-chan struct{}
	// Ref names the current run for a fault handle, so a fresh plugin
	// process can act on it: "pid=…,start=…" or "container=<id>".
	Ref() string
	// What says what it is, for people: "pid 4242", "container 1a2b3c".
	What() string
	// Stopped says why it is not running: killed by a fault, or exited on
	// its own (with how).
	Stopped() string
	// NetNS is the path of its network namespace ("" when it has none of
	// its own): where network faults put their nftables tables.
	NetNS() string
}

// localNode is a member as a child process of the plugin, in a named
// network namespace or on loopback.
type localNode struct {
	p      *process.Process
	ns     string // namespace name; "" on loopback
	killed atomic.Bool
}

func (n *localNode) Start(context.Context) error { n.killed.Store(false); return n.p.Start() }
func (n *localNode) Kill(context.Context) error  { n.killed.Store(true); return n.p.Kill() }
func (n *localNode) Stopped() string {
	if n.killed.Load() {
		return "killed (SIGKILL)"
	}
	return fmt.Sprintf("exited on its own (%v)", n.p.ExitErr())
}
func (n *localNode) Pause(context.Context) error  { return n.p.Pause() }
func (n *localNode) Resume(context.Context) error { return n.p.Resume() }

// Stop ends a member for good at teardown: SIGKILL, since its data goes
// with it and a plugin whose host died must be gone within 2 s.
func (n *localNode) Stop(context.Context) error { return n.p.Kill() }
func (n *localNode) Running() bool {
	st := n.p.State()
	return st == process.Running || st == process.Stopped
}
func (n *localNode) Frozen() bool            { return n.p.Identity().Stopped() } // the kernel's view
func (n *localNode) Exited() <-chan struct{} { return n.p.Exited() }
func (n *localNode) Ref() string             { return n.p.Identity().String() }
func (n *localNode) What() string            { return "pid " + strconv.Itoa(n.p.Pid()) }
func (n *localNode) NetNS() string {
	if n.ns == "" {
		return ""
	}
	return filepath.Join(netnsDir, n.ns)
}

package sdk

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// cleanupTimeout bounds reverting and tearing down on an abnormal exit.
const cleanupTimeout = 20 * time.Second

// parentPollInterval is how often Serve checks that the host is still alive.
const parentPollInterval = 100 * time.Millisecond

// Serve runs the plugin until the host ends it. Call it from main and do
// nothing else: stdout carries the handshake and stdin belongs to the host.
//
// Whatever way the plugin ends — the host shutting it down, SIGTERM, SIGHUP,
// or the host dying (even by SIGKILL) — Serve reverts every fault still
// active and tears down what Setup brought up before the process exits.
func Serve(impl Subject) {
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "plugin",
		Output:     os.Stderr, // go-plugin forwards stderr to the host's log file
		Level:      hclog.Debug,
		JSONFormat: true,
	})
	g := newGuard(impl, logger)

	// A dead host closes our stderr pipe; a write must then fail, not kill us
	// before the faults are reverted.
	signal.Ignore(syscall.SIGPIPE)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		logger.Warn("signal received; reverting chaos and tearing down", "signal", s.String())
		g.cleanup()
		os.Exit(0)
	}()
	go watchParent(os.Getppid(), func() {
		logger.Warn("host process is gone; reverting chaos and tearing down")
		g.cleanup()
		os.Exit(0)
	})

	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  plugin.HandshakeConfig{MagicCookieKey: Handshake.MagicCookieKey, MagicCookieValue: Handshake.MagicCookieValue},
		VersionedPlugins: VersionedPlugins(g),
		GRPCServer:       plugin.DefaultGRPCServer,
		Logger:           logger,
	})
	// The host shut us down; anything it left behind is ours to undo.
	g.cleanup()
}

// watchParent calls gone once the parent process changes (the host died and
// we were re-parented).
func watchParent(ppid int, gone func()) {
	t := time.NewTicker(parentPollInterval)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != ppid {
			gone()
			return
		}
	}
}

// cleanupContext is the context for exit-path cleanup.
func cleanupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), cleanupTimeout)
}

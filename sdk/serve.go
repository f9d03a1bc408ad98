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

// CleanupTimeout bounds reverting and tearing down when the plugin ends.
// Past it the process exits all the same (its children die with it).
const CleanupTimeout = 20 * time.Second

// parentPollInterval is how often Serve checks that the host is still alive.
const parentPollInterval = 100 * time.Millisecond

// Serve runs the plugin until the host ends it. Call it from main and do
// nothing else: stdout carries the handshake.
//
// Whatever way the plugin ends — the host shutting it down, SIGTERM, SIGHUP,
// or the host dying (even by SIGKILL) — Serve reverts every fault still
// active and tears down what Setup brought up, within CleanupTimeout, before
// the process exits.
func Serve(impl Subject) {
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "plugin",
		Output:     os.Stderr, // the host writes the plugin's stderr to its log file
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
		cleanupAndExit(g, logger)
	}()
	go watchParent(os.Getppid(), func() {
		logger.Warn("host process is gone; reverting chaos and tearing down")
		cleanupAndExit(g, logger)
	})

	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  plugin.HandshakeConfig{MagicCookieKey: MagicCookieKey, MagicCookieValue: MagicCookieValue},
		VersionedPlugins: map[int]plugin.PluginSet{ProtocolVersion: {pluginName: &grpcPlugin{impl: g}}},
		GRPCServer:       plugin.DefaultGRPCServer,
		Logger:           logger,
	})
	// The host shut us down; anything it left behind is ours to undo.
	cleanupAndExit(g, logger)
}

// cleanupAndExit reverts and tears down, then exits; if the subject does
// not finish within CleanupTimeout (it ignores its context), it exits anyway.
func cleanupAndExit(g *guard, logger hclog.Logger) {
	done := make(chan struct{})
	go func() {
		g.cleanup()
		close(done)
	}()
	select {
	case <-done:
		os.Exit(0)
	case <-time.After(CleanupTimeout + time.Second):
		logger.Error("cleanup did not finish in time; exiting with faults possibly still active", "timeout", CleanupTimeout)
		os.Exit(1)
	}
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
	return context.WithTimeout(context.Background(), CleanupTimeout)
}

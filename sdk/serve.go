package sdk

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
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
// not finish within CleanupTimeout (it ignores its context), it exits anyway,
// and takes the processes of its process group with it when it leads one
// (as demohost starts it): a child left running — a paused redis-server —
// would keep the fault alive with no one to revert it. Either way the
// directory the host made for its socket goes.
func cleanupAndExit(g *guard, logger hclog.Logger) {
	done := make(chan struct{})
	go func() {
		g.cleanup()
		close(done)
	}()
	select {
	case <-done:
		removeSocketDir()
		os.Exit(0)
	case <-time.After(CleanupTimeout + time.Second):
		logger.Error("cleanup did not finish in time; exiting, and ending the processes of the plugin's group", "timeout", CleanupTimeout)
		removeSocketDir()
		if pid := os.Getpid(); syscall.Getpgrp() == pid {
			_ = syscall.Kill(-pid, syscall.SIGKILL) // this process too
		}
		os.Exit(1)
	}
}

// removeSocketDir removes the directory go-plugin's host made for this
// plugin's socket (PLUGIN_UNIX_SOCKET_DIR, a plugin-dir* directory of its
// own): after a host that died, no one else would.
func removeSocketDir() {
	if dir := os.Getenv("PLUGIN_UNIX_SOCKET_DIR"); dir != "" && strings.HasPrefix(filepath.Base(dir), "plugin-dir") {
		_ = os.RemoveAll(dir)
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

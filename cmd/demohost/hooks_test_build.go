//go:build demohost_testhooks

package main

import (
	"context"
	"os"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/session"
)

// panicEnv, in a binary built with -tags demohost_testhooks (the tests'
// build; never `make build`), makes the host panic once a fault is active,
// so tests can check that a host panic still reverts the chaos.
const panicEnv = "DEMOHOST_TEST_PANIC_ON_CHAOS"

func testHooks(v session.View) session.View {
	if os.Getenv(panicEnv) == "" {
		return v
	}
	return func(ctx context.Context, r *runner.Runner) (*journal.Journal, error) {
		snaps, unsubscribe := r.Subscribe()
		defer unsubscribe()
		go func() { _, _ = v(ctx, r) }()
		for s := range snaps {
			if len(s.Chaos) > 0 {
				panic("test panic requested by " + panicEnv)
			}
		}
		return r.Result()
	}
}

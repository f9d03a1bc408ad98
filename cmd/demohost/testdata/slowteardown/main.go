// Command slowteardown is a test plugin: the example subject, except that
// Teardown takes 8 seconds (or until its context ends), so tests can stop
// waiting for a plugin that hangs while cleaning up.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/demohost/demohost/plugins/example"
	"github.com/demohost/demohost/sdk"
)

type slowTeardown struct{ *example.Subject }

func (s slowTeardown) Teardown(ctx context.Context, progress sdk.Progress) error {
	fmt.Fprintln(os.Stderr, "slow teardown started") // reaches the host's log file
	select {
	case <-time.After(8 * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Subject.Teardown(ctx, progress)
}

func main() { sdk.Serve(slowTeardown{example.New()}) }

// Package testkit holds the helpers the project's tests share: waiting for
// a condition with a deadline (never a bare sleep) and building the
// binaries that tests run as real processes.
package testkit

import (
	"fmt"
	"os/exec"
	"testing"
	"time"
)

// ExamplePlugin is the import path of the example subject's plugin command.
const ExamplePlugin = "github.com/demohost/demohost/plugins/example/cmd/demohost-example"

// pollInterval is how often WaitFor checks its condition.
const pollInterval = 10 * time.Millisecond

// WaitFor polls cond until it holds, failing the test with what it waited
// for once d has passed.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(pollInterval)
	}
}

// GoBuild builds the Go package pkg (an import path or ./relative path)
// into the executable out.
func GoBuild(out, pkg string) error {
	if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// Package testkit holds the helpers the project's tests share: waiting for
// a condition with a deadline (never a bare sleep) and building the
// binaries that tests run as real processes.
package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// MainWithBuilt is a TestMain body: it builds pkg into a temporary
// directory as name, stores the executable's path in *bin, runs the tests,
// removes the directory and exits with the tests' code.
func MainWithBuilt(m *testing.M, bin *string, name, pkg string) {
	dir, err := os.MkdirTemp("", name+"-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, name)
	if err := GoBuild(*bin, pkg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Package testkit holds the helpers the project's tests share: waiting for
// a condition with a deadline (never a bare sleep) and building the
// binaries that tests run as real processes.
package testkit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Plugin commands and test plugins, as paths from the repository's root.
// Each plugin is a module of its own; GoBuild builds it in its module.
const (
	ExamplePlugin   = "plugins/example/cmd/demohost-example"
	ScriptedPlugin  = "internal/testplugins/scripted"
	HostilePlugin   = "internal/testplugins/hostile"
	DemohostCommand = "cmd/demohost"
)

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

// Root is the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// GoBuild builds the main package in dir (a path from the repository's
// root, in whichever module holds it) into the executable out; extra
// arguments (e.g. -tags) go to go build.
func GoBuild(out, dir string, extra ...string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	args := append(append([]string{"build", "-o", abs}, extra...), ".")
	cmd := exec.Command("go", args...)
	cmd.Dir = filepath.Join(Root(), dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", dir, err, b)
	}
	return nil
}

// MainWithBuilt is a TestMain body: it builds the main package in dir (see
// GoBuild) into a temporary directory as name, stores the executable's
// path in *bin, runs the tests, removes the directory and exits with the
// tests' code.
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

// MainWithBuiltAll is MainWithBuilt for several executables, built at
// once: builds maps where each path is stored to the main package (see
// GoBuild) built there, under the package directory's name.
func MainWithBuiltAll(m *testing.M, builds map[*string]string) {
	dir, err := os.MkdirTemp("", "test-binaries-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	errs := make(chan error, len(builds))
	for bin, pkg := range builds {
		*bin = filepath.Join(dir, filepath.Base(pkg))
		go func() { errs <- GoBuild(*bin, pkg) }()
	}
	var all []error
	for range builds {
		all = append(all, <-errs)
	}
	code := 1
	if err := errors.Join(all...); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

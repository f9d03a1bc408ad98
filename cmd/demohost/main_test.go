package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/demohost/demohost/internal/testkit"
)

// Binaries built once by TestMain: the CLI (with its test hooks), the
// example plugin and the test plugins under testdata. Every test runs them
// as real processes.
var (
	demohostBin  string
	examplePlg   string // plugins/example/demohost-example, alone in its dir
	protocol1    string
	badChapters  string
	slowTeardown string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "demohost-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := buildAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// buildAll builds every binary the tests run, in parallel.
func buildAll(dir string) error {
	bin := filepath.Join(dir, "bin")
	demohostBin = filepath.Join(bin, "demohost")
	protocol1 = filepath.Join(bin, "protocol1")
	badChapters = filepath.Join(bin, "badchapters")
	slowTeardown = filepath.Join(bin, "slowteardown")
	examplePlg = filepath.Join(dir, "plugins", "example", "demohost-example")
	builds := []struct {
		out, pkg string
		extra    []string
	}{
		{demohostBin, testkit.DemohostCommand, []string{"-tags", "demohost_testhooks"}},
		{examplePlg, testkit.ExamplePlugin, nil},
		{protocol1, "cmd/demohost/testdata/protocol1", nil},
		{badChapters, "cmd/demohost/testdata/badchapters", nil},
		{slowTeardown, "cmd/demohost/testdata/slowteardown", nil},
	}
	if err := os.MkdirAll(filepath.Dir(examplePlg), 0o755); err != nil {
		return err
	}
	errs := make([]error, len(builds))
	var wg sync.WaitGroup
	for i, b := range builds {
		wg.Go(func() { errs[i] = testkit.GoBuild(b.out, b.pkg, b.extra...) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// result is how a demohost process ended.
type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// demohost runs the CLI with args and extra environment (the state dir is a
// temporary one) and waits for it to exit.
func demohost(t testing.TB, env []string, args ...string) result {
	t.Helper()
	return demohostWithin(t, 2*time.Minute, env, args...)
}

// demohostWithin is demohost, killed (and the test failed) after d.
func demohostWithin(t testing.TB, d time.Duration, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, demohostBin, args...)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("demohost %v did not finish within %s", args, d)
	}
	res := result{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	if exit, ok := err.(*exec.ExitError); ok {
		res.code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("run demohost %v: %v", args, err)
	}
	return res
}

// exited reports whether process pid has ended.
func exited(pid int) bool { return testkit.ProcessEnded(pid) }

// script writes an executable shell script into a temporary directory.
func script(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

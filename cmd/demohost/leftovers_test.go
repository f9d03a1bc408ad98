package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/demohost/demohost/internal/testkit"
)

// What go-plugin puts in the temporary directory for a plugin's socket is
// gone once demohost has exited, whichever way the run ended: a run that
// passed, a plugin SIGKILLed mid-fault (its fresh process's too), a host
// SIGKILLed mid-fault (the plugin removes it as it exits). And a TMPDIR
// too long for a socket's path does not keep the plugin from starting.
func TestNoSocketLeftInTheTemporaryDirectory(t *testing.T) {
	for _, how := range []string{"run passed", "plugin killed", "host killed"} {
		t.Run(how, func(t *testing.T) {
			tmp, err := os.MkdirTemp("", "tmpdir") // short: a socket's path is at most 108 bytes
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(tmp) })
			logFile := filepath.Join(t.TempDir(), "log")
			env := []string{"TMPDIR=" + tmp}
			args := []string{"--plugin", examplePlg, "--headless", "--log-file", logFile, "--set", "countdown=0s"}
			if how == "run passed" {
				if res := demohost(t, env, append(args, "--set", "detect_after=100ms")...); res.code != 0 {
					t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
				}
			} else {
				h := startDemohost(t, env, append(args, "--set", "detect_after=1m")...)
				h.waitOutput(t, "chaos  injected")
				victim := h.cmd.Process.Pid
				if how == "plugin killed" {
					victim = pluginPID(t, logFile)
				}
				if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				h.wait(t)
				plugin := pluginPID(t, logFile)
				testkit.WaitFor(t, 30*time.Second, "the plugin to end", func() bool { return exited(plugin) })
			}
			testkit.WaitFor(t, 10*time.Second, "the socket directory to go", func() bool { return len(pluginEntries(tmp)) == 0 })
		})
	}
	long := filepath.Join(t.TempDir(), strings.Repeat("a-long-temporary-directory-", 3))
	if err := os.MkdirAll(long, 0o700); err != nil {
		t.Fatal(err)
	}
	if res := demohost(t, []string{"TMPDIR=" + long}, "describe", "--plugin", examplePlg); res.code != 0 {
		t.Errorf("with TMPDIR=%s (%d bytes): exit %d\n%s", long, len(long), res.code, res.stderr)
	}
}

// pluginEntries lists what go-plugin made in dir (plugin*).
func pluginEntries(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "plugin") {
			out = append(out, e.Name())
		}
	}
	return out
}

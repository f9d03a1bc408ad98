package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `demohost recover` is not a way to run arbitrary code: the chaos log
// records the plugin's SHA-256 and owner, and recover refuses to run a
// plugin that changed since (it never starts), saying how to vouch for it;
// with --plugin it runs it.
func TestRecoverRunsOnlyThePluginThatRan(t *testing.T) {
	state := []string{"XDG_STATE_HOME=" + t.TempDir()}
	plugin := copyFile(t, examplePlg, "demohost-example")
	ran := sha256Of(t, plugin)
	logFile := filepath.Join(t.TempDir(), "log")
	h := startDemohost(t, state, "--plugin", plugin, "--headless", "--log-file", logFile, "--set", "countdown=0s", "--set", "detect_after=1m")
	h.waitOutput(t, "chaos  injected")
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	h.wait(t)
	assertPluginGone(t, logFile)

	// Someone replaces the plugin with something else.
	marker := filepath.Join(t.TempDir(), "ran")
	other := plugin + ".new"
	if err := os.WriteFile(other, []byte("#!/bin/sh\ntouch "+marker+"\nexec "+examplePlg+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, plugin); err != nil {
		t.Fatal(err)
	}
	res := demohost(t, state, "recover")
	if res.code != exitUsage {
		t.Errorf("recover of a changed plugin: exit %d; want 2\n%s%s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"not recovered: NODE_KILL on node-", plugin + " changed since that run (its SHA-256 was " + ran + ", is now " + sha256Of(t, plugin) + ")",
		"run `demohost recover --plugin " + plugin + "`"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("recover says %q; want %q", res.stdout, want)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("recover ran a plugin that changed since the run")
	}

	res = demohost(t, state, "recover", "--plugin", plugin)
	if res.code != 0 || !strings.Contains(res.stdout, "reverted NODE_KILL on node-") {
		t.Fatalf("recover --plugin: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Error("recover --plugin did not run the plugin the user vouched for")
	}
	if res := demohost(t, state, "recover"); !strings.Contains(res.stdout, "nothing to recover") {
		t.Errorf("after recover --plugin: %q; want nothing to recover", res.stdout)
	}
}

// The state directory, the chaos logs' directory and the log file are
// private to the user: they hold what plugins printed and name what
// recover runs.
func TestStateIsPrivate(t *testing.T) {
	home := t.TempDir()
	if res := demohost(t, []string{"XDG_STATE_HOME=" + home}, "--plugin", examplePlg, "--headless", "--set", "countdown=0s", "--set", "detect_after=100ms"); res.code != 0 {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	for path, want := range map[string]os.FileMode{
		filepath.Join(home, "demohost"):                 0o700,
		filepath.Join(home, "demohost", "chaos"):        0o700,
		filepath.Join(home, "demohost", "demohost.log"): 0o600,
	} {
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != want {
			t.Errorf("%s: %v (%v); want mode %v", path, info.Mode().Perm(), err, want)
		}
	}
}

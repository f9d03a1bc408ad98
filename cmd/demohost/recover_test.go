package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// SIGKILL the host mid-chaos: the plugin reverts on its own, the chaos log
// survives, the next run warns about it and `demohost recover` replays the
// revert through a fresh plugin process.
func TestRecoverAfterHostSIGKILL(t *testing.T) {
	state := []string{"XDG_STATE_HOME=" + t.TempDir()}
	logFile := filepath.Join(t.TempDir(), "log")
	h := startDemohost(t, state, "--plugin", examplePlg, "--headless", "--log-file", logFile,
		"--set", "countdown=0s", "--set", "detect_after=1m")
	h.waitOutput(t, "chaos  injected")
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	h.wait(t)
	assertPluginGone(t, logFile) // it noticed its host died, reverted and exited

	res := demohost(t, state, "describe", "--plugin", examplePlg)
	if res.code != 0 {
		t.Fatalf("describe: exit %d: %s", res.code, res.stderr)
	}
	res = demohost(t, state, "--plugin", examplePlg, "--headless", "--report", filepath.Join(t.TempDir(), "r.json"), "--set", "countdown=0s", "--set", "detect_after=100ms")
	if want := "an earlier run left faults unreverted: NODE_KILL on node-"; !strings.Contains(res.stderr, want) || !strings.Contains(res.stderr, "run `demohost recover`") {
		t.Errorf("the next run does not warn (%q); stderr:\n%s", want, res.stderr)
	}

	res = demohost(t, state, "recover")
	if res.code != 0 || !strings.Contains(res.stdout, "reverted NODE_KILL on node-") {
		t.Fatalf("recover: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	res = demohost(t, state, "recover")
	if res.code != 0 || !strings.Contains(res.stdout, "nothing to recover") {
		t.Fatalf("second recover: exit %d, %q; want nothing to recover", res.code, res.stdout)
	}
}

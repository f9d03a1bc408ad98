package tikv_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestEveryExitPathRestartsTheKilledStore ends a headless run while a
// fixture store (not TiKV) is killed — the host interrupted (Ctrl-C), SIGTERMed, SIGHUPed or
// SIGKILLed — and checks the store container is running again without
// anyone else's help.
func TestEveryExitPathRestartsTheKilledStore(t *testing.T) {
	if testing.Short() {
		t.Skip("runs on Docker")
	}
	c := startFixture(t)
	dir := binaries(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(dir, "demohost"),
				"--plugin", filepath.Join(dir, "tikv"),
				"--set", "pd="+c.PDAddr, "--set", "selector="+c.Selector,
				"--set", "countdown=0s", "--set", "pd_wait=2m",
				"--headless", "--log-file", filepath.Join(t.TempDir(), "demohost.log"))
			cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

			killed := waitUntil(t, 60*time.Second, "a store container killed by the demo", func() string {
				list, _ := c.Target.List(ctx)
				for _, ct := range list {
					if !ct.Running {
						return ct.Name
					}
				}
				return ""
			})
			sent := time.Now()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, 30*time.Second, killed+" running again", func() string {
				got, err := c.Target.Inspect(ctx, killed)
				if err == nil && got.Running {
					return "yes"
				}
				return ""
			})
			t.Logf("host %s mid-chaos: %s running again %s after the signal", sig, killed, time.Since(sent).Round(time.Millisecond))
		})
	}
}

// waitUntil polls f until it returns non-empty, or fails the test at the deadline.
func waitUntil(t *testing.T, d time.Duration, what string, f func() string) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if v := f(); v != "" {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // polling cadence
	}
}

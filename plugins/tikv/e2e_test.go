package tikv_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type report struct {
	Result   string `json:"result"`
	Chapters []struct {
		Title        string `json:"title"`
		Status       string `json:"status"`
		Expectations []struct {
			Description string `json:"description"`
			Met         bool   `json:"met"`
		} `json:"expectations"`
	} `json:"chapters"`
	Chaos []struct {
		Type         string     `json:"type"`
		Target       string     `json:"target"`
		Detail       string     `json:"detail"`
		RevertDetail string     `json:"revert_detail"`
		InjectedAt   time.Time  `json:"injected_at"`
		RevertedAt   *time.Time `json:"reverted_at"`
	} `json:"chaos"`
	ViolationsSeen []struct {
		Invariant string    `json:"invariant"`
		FirstSeen time.Time `json:"first_seen"`
	} `json:"violations_seen"`
	Violations []struct {
		Invariant string     `json:"invariant"`
		Target    string     `json:"target"`
		RaisedAt  time.Time  `json:"raised_at"`
		ClearedAt *time.Time `json:"cleared_at"`
	} `json:"violations"`
}

// TestHeadlessDemoAgainstFixtureCluster runs every chapter headless with
// bin/demohost against the fixture cluster (not TiKV) on the real Docker
// engine: a store container is SIGKILLed and started again for real.
func TestHeadlessDemoAgainstFixtureCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run on Docker")
	}
	c := startFixture(t)
	dir := binaries(t)
	reportPath := filepath.Join(t.TempDir(), "r.json")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "demohost"),
		"--plugin", filepath.Join(dir, "tikv"),
		"--set", "pd="+c.PDAddr, "--set", "selector="+c.Selector,
		"--set", "countdown=1s", "--set", "pd_wait=20s",
		"--headless", "--report", reportPath, "--log-file", filepath.Join(t.TempDir(), "demohost.log"))
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	t.Logf("demohost output:\n%s", out)
	if err != nil {
		t.Fatalf("demohost: %v (want exit 0)", err)
	}

	var r report
	b, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	t.Logf("chaos: %+v", r.Chaos)
	if len(r.Chapters) != 8 {
		t.Fatalf("%d chapters in the report, want 8", len(r.Chapters))
	}
	for _, ch := range r.Chapters {
		if ch.Status != "passed" {
			t.Errorf("chapter %q: %s", ch.Title, ch.Status)
		}
	}
	if len(r.Chaos) != 1 || r.Chaos[0].Type != "CONTAINER_KILL" || r.Chaos[0].RevertedAt == nil {
		t.Fatalf("chaos = %+v; want one CONTAINER_KILL, reverted", r.Chaos)
	}
	if k := r.Chaos[0]; !strings.HasPrefix(k.Detail, "SIGKILL "+k.Target+" ") || k.RevertDetail != "started "+k.Target+" again through the Docker Engine API" {
		t.Errorf("chaos lines %q / %q: want what was killed and that it was started again", k.Detail, k.RevertDetail)
	}
	var raised, cleared bool
	for _, v := range r.Violations {
		if v.Invariant == "store_down" && v.Target == r.Chaos[0].Target {
			raised = true
			cleared = cleared || v.ClearedAt != nil
			t.Logf("store_down on %s raised %s after the kill was acknowledged (health stream): %+v", v.Target, v.RaisedAt.Sub(r.Chaos[0].InjectedAt).Round(time.Millisecond), v)
		}
	}
	if !raised || !cleared {
		t.Fatalf("store_down on %s raised %t, cleared %t; want both (violations: %+v)", r.Chaos[0].Target, raised, cleared, r.Violations)
	}

	// No container is left stopped.
	list, err := c.Target.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range list {
		if !ct.Running || ct.Paused {
			t.Errorf("container %s left %s", ct.Name, ct.State)
		}
	}
}

// TestNoClusterIsOneLine runs demohost against a PD address nobody serves:
// it exits 2 with one line on stderr that says how to start a cluster, and
// lists no chapters.
func TestNoClusterIsOneLine(t *testing.T) {
	dir := binaries(t)
	cmd := exec.Command(filepath.Join(dir, "demohost"), "--plugin", filepath.Join(dir, "tikv"),
		"--set", "pd=127.0.0.1:1", "--headless", "--log-file", filepath.Join(t.TempDir(), "demohost.log"))
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 2 {
		t.Fatalf("exit: %v; want 2", err)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "docker compose -f plugins/tikv/compose.yaml up -d") || strings.Contains(lines[0], "rpc error") {
		t.Errorf("stderr is not one line saying how to start a cluster:\n%s", stderr.String())
	}
	if strings.Contains(stdout.String(), "chapter ") {
		t.Errorf("stdout lists chapters although none ran:\n%s", stdout.String())
	}
}

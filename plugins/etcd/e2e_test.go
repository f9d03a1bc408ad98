package etcd

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// buildDemo builds the host (bin/demohost's package, in the root module)
// and this plugin into dir.
func buildDemo(t *testing.T, dir string) (host, plugin string) {
	t.Helper()
	host, plugin = filepath.Join(dir, "demohost"), filepath.Join(dir, "demohost-etcd")
	for _, b := range []struct{ out, dir, pkg string }{{host, "../..", "./cmd/demohost"}, {plugin, ".", "./cmd/demohost-etcd"}} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Dir = b.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return host, plugin
}

// report is the part of demohost's JSON report this test reads.
type report struct {
	Result   string `json:"result"`
	Chapters []struct {
		Title  string `json:"title"`
		Status string `json:"status"` // passed only if every expectation was met
	} `json:"chapters"`
	Chaos []struct {
		Type       string `json:"type"`
		Detail     string `json:"detail"`
		RevertedAt string `json:"reverted_at"`
	} `json:"chaos"`
	ViolationsSeen []struct {
		Invariant string `json:"invariant"`
	} `json:"violations_seen"`
}

// TestHeadlessDemo runs the whole demo through the real host, as
// `demohost --plugin ./plugins/etcd --headless --report r.json --timeline
// t.svg`: every chapter passes against real etcd and real partitions,
// split_brain is never raised, and nothing is left behind.
func TestHeadlessDemo(t *testing.T) {
	requireEtcd(t)
	dir := t.TempDir()
	host, plugin := buildDemo(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rpath, svg := filepath.Join(dir, "r.json"), filepath.Join(dir, "t.svg")
	start := time.Now()
	cmd := exec.CommandContext(ctx, host, "--plugin", plugin, "--headless", "--report", rpath, "--timeline", svg)
	out, err := cmd.CombinedOutput()
	t.Logf("headless demo took %s:\n%s", time.Since(start).Round(time.Second), out)
	if err != nil {
		t.Fatalf("demohost --headless: %v", err)
	}
	b, err := os.ReadFile(rpath)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Result != "passed" || len(r.Chapters) != 10 {
		t.Errorf("result %q with %d chapters, want passed with 10", r.Result, len(r.Chapters))
	}
	for _, c := range r.Chapters {
		if c.Status != "passed" {
			t.Errorf("chapter %q %s", c.Title, c.Status)
		}
	}
	kinds := map[string]bool{}
	owner := 0
	for _, c := range r.Chaos {
		kinds[c.Type] = true
		if c.RevertedAt == "" {
			t.Errorf("%s never reverted", c.Type)
		}
		if m := regexp.MustCompile(`demohost_etcd_(\d+)_`).FindStringSubmatch(c.Detail); m != nil {
			owner, _ = strconv.Atoi(m[1])
		}
	}
	for _, k := range []string{LeaderKill, FollowerFreeze, NetworkPartition, NetworkLatency, QuorumLoss} {
		if !kinds[k] {
			t.Errorf("the demo never injected %s", k)
		}
	}
	for _, v := range r.ViolationsSeen {
		if v.Invariant == invSplitBrain {
			t.Error("split_brain was raised")
		}
	}
	if st, err := os.Stat(svg); err != nil || st.Size() == 0 {
		t.Errorf("no timeline: %v", err)
	}
	if owner == 0 {
		t.Fatal("no fault detail names the plugin process (demohost_etcd_<pid>_…)")
	}
	assertNothingLeft(t, owner)
	if _, err := os.Stat("/proc/" + strconv.Itoa(owner)); err == nil {
		t.Errorf("plugin process %d still runs after demohost exited", owner)
	}
}

package etcd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/demohost/demohost/sdk"
)

// sdkCleanupTimeout is how long a plugin whose host died may take to
// revert and tear down before it exits (sdk.Serve).
const sdkCleanupTimeout = sdk.CleanupTimeout + 2*time.Second

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
		Title      string `json:"title"`
		Status     string `json:"status"` // passed only if every expectation was met
		SkipReason string `json:"skip_reason"`
	} `json:"chapters"`
	Chaos []struct {
		Type       string `json:"type"`
		Detail     string `json:"detail"`
		RevertedAt string `json:"reverted_at"`
	} `json:"chaos"`
	Events         []event `json:"events"`
	ViolationsSeen []struct {
		Invariant string `json:"invariant"`
	} `json:"violations_seen"`
}

// leftovers lists what any etcd demo has on this machine now: etcd
// processes started by the plugin, data directories, containers and
// networks.
func leftovers(t *testing.T) []string {
	out := grepLines(run(t, "ps", "-eo", "pid,args"), "demohost-etcd-")
	var l []string
	if out != "" {
		l = strings.Split(out, "\n")
	}
	dirs, _ := filepath.Glob(filepath.Join(dataRoot(), "demohost-etcd-*"))
	l = append(l, dirs...)
	for _, what := range [][]string{{"ps", "-a"}, {"network", "ls"}} {
		out := strings.TrimSpace(run(t, "docker", append(what, "-q", "--filter", "label=demohost.plugin=etcd")...))
		if out != "" {
			l = append(l, strings.Split(out, "\n")...)
		}
	}
	return l
}

// runDemo runs the whole headless demo through the real host (prefix, if
// any, wraps the command) and checks what every run must show: every
// chapter passed, every fault reverted, no split_brain, a timeline, and
// nothing new left on the machine.
func runDemo(t *testing.T, prefix []string, chapters int, set ...string) report {
	t.Helper()
	requireEtcd(t)
	dir := t.TempDir()
	host, plugin := buildDemo(t, dir)
	before := leftovers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rpath, svg := filepath.Join(dir, "r.json"), filepath.Join(dir, "t.svg")
	args := append(append([]string{}, prefix...), host, "--plugin", plugin, "--headless", "--report", rpath, "--timeline", svg)
	for _, kv := range set {
		args = append(args, "--set", kv)
	}
	start := time.Now()
	run := exec.CommandContext(ctx, args[0], args[1:]...)
	run.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state")) // never the user's chaos logs
	out, err := run.CombinedOutput()
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
	if r.Result != "passed" || len(r.Chapters) != chapters {
		t.Errorf("result %q with %d chapters, want passed with %d", r.Result, len(r.Chapters), chapters)
	}
	for _, c := range r.Chapters {
		if c.Status != "passed" && !(c.Status == "skipped" && c.SkipReason != "") {
			t.Errorf("chapter %q %s", c.Title, c.Status)
		}
	}
	for _, c := range r.Chaos {
		if c.RevertedAt == "" {
			t.Errorf("%s never reverted", c.Type)
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
	if after := leftovers(t); len(after) > len(before) {
		t.Errorf("left behind by the demo: %q (before it: %q)", after, before)
	}
	return r
}

// event is one line of the report's event log.
type event struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// kinds lists the fault kinds a report shows injected.
func kinds(r report) []string {
	var k []string
	for _, c := range r.Chaos {
		k = append(k, c.Type)
	}
	return k
}

// TestHeadlessDemo runs the whole demo through the real host, as
// `demohost --plugin ./plugins/etcd --headless --report r.json --timeline
// t.svg`: every chapter passes against real etcd and real partitions,
// split_brain is never raised, and no namespace, link, rule, process or
// data is left behind.
func TestHeadlessDemo(t *testing.T) {
	r := runDemo(t, nil, 10)
	for _, k := range []string{LeaderKill, FollowerFreeze, NetworkPartition, NetworkLatency, QuorumLoss} {
		if !slices.Contains(kinds(r), k) {
			t.Errorf("the demo never injected %s", k)
		}
	}
	owner := 0
	for _, c := range r.Chaos {
		if m := regexp.MustCompile(`demohost_etcd_(\d+)_`).FindStringSubmatch(c.Detail); m != nil {
			owner, _ = strconv.Atoi(m[1])
		}
	}
	if owner == 0 {
		t.Fatal("no fault detail names the plugin process (demohost_etcd_<pid>_…)")
	}
	assertNothingLeft(t, owner)
}

// TestHeadlessDemoDocker runs the whole demo on the docker runtime: the
// members are containers of an image built here from the same etcd
// binary, and the network faults act inside the containers' namespaces.
func TestHeadlessDemoDocker(t *testing.T) {
	r := runDemo(t, nil, 10, "runtime=docker")
	for _, k := range []string{LeaderKill, FollowerFreeze, NetworkPartition, NetworkLatency, QuorumLoss} {
		if !slices.Contains(kinds(r), k) {
			t.Errorf("the demo never injected %s", k)
		}
	}
}

// TestHeadlessDemoWithoutNamespaces runs the demo with the capabilities
// namespaces need (CAP_NET_ADMIN, CAP_SYS_ADMIN) dropped, as for a user
// who is not root: the members run on loopback, the partition, healed and
// latency chapters are skipped with the reason, and the seven others pass.
func TestHeadlessDemoWithoutNamespaces(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatal("setpriv (util-linux) is needed to drop capabilities: apt-get install util-linux")
	}
	r := runDemo(t, []string{setpriv, "--bounding-set", "-net_admin,-sys_admin", "--inh-caps", "-net_admin,-sys_admin"}, 10)
	var skipped []string
	for _, c := range r.Chapters {
		if c.Status == "skipped" {
			skipped = append(skipped, c.Title+": "+c.SkipReason)
		}
	}
	if len(skipped) != 3 || !strings.Contains(skipped[0], "needs network namespaces: not root") {
		t.Errorf("skipped chapters = %q, want partition, healed and latency with the reason", skipped)
	}
	said := slices.ContainsFunc(r.Events, func(e event) bool {
		return e.Kind == "setup" && strings.Contains(e.Message, "not root: network namespaces and nftables need CAP_NET_ADMIN and CAP_SYS_ADMIN")
	})
	if !said {
		t.Error("setup did not say in one line what is missing for namespaces")
	}
	for _, k := range kinds(r) {
		if k == NetworkPartition || k == NetworkLatency {
			t.Errorf("%s injected without namespaces", k)
		}
	}
}

// TestHostKilledDuringPartition SIGKILLs demohost while the leader is
// partitioned: the plugin notices its host is gone, heals the partition,
// tears the cluster down and exits, leaving nothing behind.
func TestHostKilledDuringPartition(t *testing.T) {
	requireEtcd(t)
	dir := t.TempDir()
	host, plugin := buildDemo(t, dir)
	before := leftovers(t)
	cmd := exec.Command(host, "--plugin", plugin, "--headless")
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state")) // its chaos log stays in the test's directory
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	owner := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := regexp.MustCompile(`demohost_etcd_(\d+)_partition drops`).FindStringSubmatch(sc.Text()); m != nil {
				pid, _ := strconv.Atoi(m[1])
				owner <- pid
			}
		}
	}()
	var pid int
	select {
	case pid = <-owner:
	case <-time.After(2 * time.Minute):
		t.Fatal("the demo did not reach the partition within 2 minutes")
	}
	ns := fmt.Sprintf("%s%d-", nsPrefix, pid)
	if !strings.Contains(run(t, "ip", "netns", "list"), ns) {
		t.Fatalf("no namespaces %s* while partitioned", ns)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(sdkCleanupTimeout)
	for {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
			break // the plugin exited
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin %d still runs %s after its host was killed", pid, sdkCleanupTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	assertNothingLeft(t, pid)
	if after := leftovers(t); len(after) > len(before) {
		t.Errorf("left behind: %q", after)
	}
}

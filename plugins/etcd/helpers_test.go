package etcd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/sdk"
)

// TestMain lets the test binary stand in for the plugin executable: the
// cluster starts members through `<exe> netns-exec NS etcd …`, and the
// crash test runs a plugin process of its own (helperEnv).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == launcherCommand {
		err := RunInNamespace(os.Args[2:])
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if os.Getenv(helperEnv) != "" {
		runHelper()
		return
	}
	os.Exit(m.Run())
}

// options returns the schema's defaults with overrides.
func options(t testing.TB, s *Subject, over map[string]string) sdk.Options {
	t.Helper()
	d, err := s.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	o := sdk.Options{}
	for _, opt := range d.Options {
		o[opt.Name] = opt.Default
	}
	for k, v := range over {
		o[k] = v
	}
	return o
}

// newTestSubject is a subject whose state lives in a directory of the test.
func newTestSubject(t testing.TB, stateDir string) *Subject {
	s := New()
	s.stateDir = stateDir
	return s
}

// upSubject configures and sets up a cluster, torn down (and checked for
// leftovers) when the test ends.
func upSubject(t testing.TB, over map[string]string) *Subject {
	t.Helper()
	requireEtcd(t)
	s := newTestSubject(t, t.TempDir())
	ctx := context.Background()
	if err := s.Configure(ctx, sdk.ConfigureRequest{Options: options(t, s, over)}); err != nil {
		t.Fatal(err)
	}
	progress := sdk.NewProgress(func(sev sdk.Severity, msg string) { t.Logf("setup %s: %s", sev, msg) })
	err := s.Setup(ctx, sdk.SetupRequest{Progress: progress})
	owner := self().Pid
	t.Cleanup(func() {
		if err := s.Teardown(context.Background(), sdk.TeardownRequest{Progress: sdk.NewProgress(func(_ sdk.Severity, msg string) { t.Logf("teardown: %s", msg) })}); err != nil {
			t.Errorf("teardown: %v", err)
		}
		assertNothingLeft(t, owner)
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// requireEtcd fails (never skips) when etcd is missing: these tests are
// about the real thing.
func requireEtcd(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/etcd"); err != nil {
		t.Fatal("etcd is not installed: apt-get install etcd-server (Debian), as .ci/run does")
	}
}

// waitHealth polls the subject's health until ok holds or the deadline.
func waitHealth(t testing.TB, s *Subject, within time.Duration, what string, ok func(sdk.HealthSnapshot) bool) sdk.HealthSnapshot {
	t.Helper()
	deadline := time.Now().Add(within)
	var h sdk.HealthSnapshot
	for {
		h, _ = s.Health(context.Background())
		if ok(h) {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen within %s; last snapshot:\n%s", what, within, dump(h))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dump(h sdk.HealthSnapshot) string {
	var b strings.Builder
	for _, n := range h.Nodes {
		fmt.Fprintf(&b, "  %s %s %s %s\n", n.ID, n.State, n.Role, n.Detail)
	}
	for _, v := range h.Violations {
		fmt.Fprintf(&b, "  ! %s %s: %s\n", v.Invariant, v.Target, v.Message)
	}
	for _, m := range h.Metrics {
		fmt.Fprintf(&b, "  %s=%.1f", m.Name, m.Value)
	}
	return b.String()
}

func violated(h sdk.HealthSnapshot, inv string) bool { return hasViolation(h, inv) }

func violatedOn(h sdk.HealthSnapshot, inv, target string) bool {
	for _, v := range h.Violations {
		if v.Invariant == inv && v.Target == target {
			return true
		}
	}
	return false
}

func allUp(h sdk.HealthSnapshot) bool {
	if len(h.Nodes) == 0 {
		return false
	}
	for _, n := range h.Nodes {
		if n.State != sdk.Up {
			return false
		}
	}
	return true
}

func nodeOf(h sdk.HealthSnapshot, id string) sdk.Node {
	for _, n := range h.Nodes {
		if n.ID == id {
			return n
		}
	}
	return sdk.Node{}
}

func metric(h sdk.HealthSnapshot, name string) float64 {
	for _, m := range h.Metrics {
		if m.Name == name {
			return m.Value
		}
	}
	return -1
}

// run runs a command and returns its output.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// assertNothingLeft checks, as a person would with ip and nft, that plugin
// process owner left no namespace, link, rule or etcd process behind.
func assertNothingLeft(t testing.TB, owner int) {
	t.Helper()
	prefix := fmt.Sprintf("%s%d-", nsPrefix, owner)
	if out := run(t, "ip", "netns", "list"); strings.Contains(out, prefix) {
		t.Errorf("namespaces left behind:\n%s", out)
	}
	if out := run(t, "ip", "-br", "link"); strings.Contains(out, fmt.Sprintf("dhe%d", owner)) {
		t.Errorf("host link left behind:\n%s", out)
	}
	if out := run(t, "nft", "list", "ruleset"); strings.Contains(out, fmt.Sprintf("demohost_etcd_%d", owner)) {
		t.Errorf("nftables rules left behind in the host namespace:\n%s", out)
	}
	if out := run(t, "ps", "-eo", "pid,args"); strings.Contains(out, fmt.Sprintf("demohost-etcd-%d-", owner)) {
		t.Errorf("etcd processes left behind:\n%s", grepLines(out, fmt.Sprintf("demohost-etcd-%d-", owner)))
	}
	if dirs, _ := filepath.Glob(filepath.Join(dataRoot(), fmt.Sprintf("demohost-etcd-%d-*", owner))); len(dirs) != 0 {
		t.Errorf("data directories left behind: %v", dirs)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// assertNoContainers checks that plugin process owner ("<pid>-<start>")
// left no container, network or image in Docker.
func assertNoContainers(t testing.TB, owner string) {
	t.Helper()
	label := ownerLabel + "=" + owner
	for _, what := range [][]string{{"ps", "-a"}, {"network", "ls"}} {
		if out := run(t, "docker", append(what, "-q", "--filter", "label="+label)...); strings.TrimSpace(out) != "" {
			t.Errorf("docker %s: left behind: %s", what[0], out)
		}
	}
	if out := run(t, "docker", "images", "-q", "--filter", "label=demohost.image-scope"); strings.Contains(run(t, "docker", "images", "--format", "{{.Repository}}"), "demohost-etcd-"+owner) {
		t.Errorf("image demohost-etcd-%s left behind (%s)", owner, out)
	}
}

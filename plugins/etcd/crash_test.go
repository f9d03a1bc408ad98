package etcd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/process"
)

// helperEnv makes the test binary a plugin process of its own (runHelper),
// with its state files in the directory the variable names; runtimeEnv
// picks its runtime.
const (
	helperEnv  = "DEMOHOST_ETCD_TEST_HELPER"
	runtimeEnv = "DEMOHOST_ETCD_TEST_RUNTIME"
)

// helperFault is one fault the helper injected, as it reports it.
type helperFault struct {
	Kind   string `json:"kind"`
	Handle string `json:"handle"`
	Target string `json:"target"`
}

// runHelper sets up a cluster, partitions the leader, freezes a follower,
// prints each fault as a JSON line, then "ready", and waits to be killed.
func runHelper() {
	fail := func(err error) { fmt.Println("error:", err); os.Exit(1) }
	s := New()
	s.stateDir = os.Getenv(helperEnv)
	ctx := context.Background()
	d, _ := s.Describe(ctx)
	o := sdk.Options{}
	for _, opt := range d.Options {
		o[opt.Name] = opt.Default
	}
	o[optRuntime] = os.Getenv(runtimeEnv)
	if err := s.Configure(ctx, sdk.ConfigureRequest{Options: o}); err != nil {
		fail(err)
	}
	if err := s.Setup(ctx, sdk.SetupRequest{}); err != nil {
		fail(err)
	}
	for _, kind := range []string{NetworkPartition, FollowerFreeze} {
		inj, err := s.InjectChaos(ctx, sdk.InjectRequest{Fault: sdk.Fault{Kind: kind}})
		if err != nil {
			fail(err)
		}
		b, _ := json.Marshal(helperFault{Kind: kind, Handle: inj.Handle, Target: inj.Target})
		fmt.Println(string(b))
	}
	fmt.Println("ready")
	select {}
}

// crashHelper starts a plugin process of its own (runHelper) on runtime,
// waits until it has partitioned the leader and frozen a follower, and
// SIGKILLs it. Local members die with it (parent-death signal); containers
// do not; namespaces and the rules in them stay.
func crashHelper(t *testing.T, runtime string) (process.Identity, map[string]helperFault, string) {
	t.Helper()
	requireEtcd(t)
	stateDir := t.TempDir()
	t.Cleanup(func() {
		// Whatever happened, remove what the helper made (before its state
		// directory goes).
		fresh := newTestSubject(t, stateDir)
		_ = fresh.Configure(context.Background(), sdk.ConfigureRequest{Options: options(t, fresh, map[string]string{optRuntime: runtime})})
		_ = fresh.Teardown(context.Background(), sdk.TeardownRequest{})
	})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+stateDir, runtimeEnv+"="+runtime)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	helper, err := process.IdentityOf(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	faults := map[string]helperFault{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(90 * time.Second)
	for ready := false; !ready; {
		select {
		case l, ok := <-lines:
			switch {
			case !ok || strings.HasPrefix(l, "error:"):
				t.Fatalf("helper plugin process: %s", l)
			case l == "ready":
				ready = true
			default:
				var f helperFault
				if err := json.Unmarshal([]byte(l), &f); err != nil {
					t.Fatalf("helper said %q", l)
				}
				faults[f.Kind] = f
			}
		case <-deadline:
			t.Fatal("helper plugin process not ready within 90s")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	return helper, faults, stateDir
}

// revertFresh reverts the helper's faults from a fresh subject (this test
// process, which never ran Setup), checking what the revert lines say.
func revertFresh(t *testing.T, stateDir string, faults map[string]helperFault, freezeSays string) *Subject {
	t.Helper()
	fresh := newTestSubject(t, stateDir)
	ctx := context.Background()
	if err := fresh.Configure(ctx, sdk.ConfigureRequest{Options: options(t, fresh, nil)}); err != nil {
		t.Fatal(err)
	}
	part := faults[NetworkPartition]
	rev, err := fresh.RevertChaos(ctx, sdk.RevertRequest{Handle: part.Handle, Fault: sdk.Fault{Kind: NetworkPartition}, Target: part.Target})
	if err != nil {
		t.Fatalf("fresh process reverting the partition: %v", err)
	}
	if !strings.Contains(rev.Detail, "healed the partition of "+part.Target) {
		t.Errorf("revert of the partition says %q", rev.Detail)
	}
	fr := faults[FollowerFreeze]
	rev, err = fresh.RevertChaos(ctx, sdk.RevertRequest{Handle: fr.Handle, Fault: sdk.Fault{Kind: FollowerFreeze}, Target: fr.Target})
	if err != nil || !strings.Contains(rev.Detail, freezeSays) {
		t.Errorf("revert of the freeze from a fresh process: %q, %v; want it to say %q", rev.Detail, err, freezeSays)
	}
	return fresh
}

// reapFresh tears down from the fresh subject (no Setup), checks it said
// what it removed, and that a second teardown finds nothing.
func reapFresh(t *testing.T, fresh *Subject, says string) {
	t.Helper()
	ctx := context.Background()
	var said []string
	progress := sdk.NewProgress(func(_ sdk.Severity, msg string) { said = append(said, msg) })
	if err := fresh.Teardown(ctx, sdk.TeardownRequest{Progress: progress}); err != nil {
		t.Fatalf("teardown without setup: %v", err)
	}
	if !slices.ContainsFunc(said, func(s string) bool { return strings.Contains(s, says) }) {
		t.Errorf("teardown without setup did not say %q: %q", says, said)
	}
	said = nil
	if err := fresh.Teardown(ctx, sdk.TeardownRequest{Progress: progress}); err != nil || !slices.Contains(said, "nothing left behind by earlier plugin processes") {
		t.Errorf("second teardown: %q, %v", said, err)
	}
}

// TestFreshProcessRevertsAndReaps: a plugin process dies (SIGKILL) with a
// partition and a frozen member active. A fresh process reverts both by
// their handles, then its Teardown without Setup removes the namespaces,
// host link and data the dead one left — and nothing else.
func TestFreshProcessRevertsAndReaps(t *testing.T) {
	helper, faults, stateDir := crashHelper(t, "local")
	targetNS := filepath.Join(netnsDir, fmt.Sprintf("%s%d-%s", nsPrefix, helper.Pid, faults[NetworkPartition].Target))
	table := tableName(helper.Pid, "partition")
	if tables, err := tablesIn(targetNS); err != nil || !slices.Contains(tables, table) {
		t.Fatalf("after the crash, want the partition table in %s: %v %v", targetNS, tables, err)
	}
	if len(ownedNamespaces(helper.Pid)) == 0 {
		t.Fatal("after the crash, want the dead process' namespaces still there")
	}
	fresh := revertFresh(t, stateDir, faults, "gone")
	if tables, _ := tablesIn(targetNS); slices.Contains(tables, table) {
		t.Errorf("partition table still in %s after the fresh process reverted it: %v", targetNS, tables)
	}
	reapFresh(t, fresh, "removed leftover network namespaces")
	assertNothingLeft(t, helper.Pid)
	if files, _ := filepath.Glob(filepath.Join(stateDir, "*.json")); len(files) != 0 {
		t.Errorf("state files left: %v", files)
	}
}

// TestFreshProcessRevertsAndReapsDocker: the same on the docker runtime,
// where the containers outlive the plugin process: the fresh process heals
// the partition inside the container's namespace and unpauses the frozen
// container, by their handles, and its Teardown removes the containers,
// network and image.
func TestFreshProcessRevertsAndReapsDocker(t *testing.T) {
	helper, faults, stateDir := crashHelper(t, "docker")
	owner := ownerName(helper)
	t.Cleanup(func() { assertNoContainers(t, owner) })
	pausedOf := func() string {
		return strings.TrimSpace(run(t, "docker", "ps", "-q", "--filter", "label="+ownerLabel+"="+owner, "--filter", "status=paused"))
	}
	if pausedOf() == "" {
		t.Fatal("after the crash, want the frozen container still paused")
	}
	fresh := revertFresh(t, stateDir, faults, "unpaused "+faults[FollowerFreeze].Target)
	if p := pausedOf(); p != "" {
		t.Errorf("containers still paused after the revert: %s", p)
	}
	reapFresh(t, fresh, "leftover containers")
}

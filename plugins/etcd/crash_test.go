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
)

// helperEnv makes the test binary a plugin process of its own (runHelper),
// with its state files in the directory the variable names.
const helperEnv = "DEMOHOST_ETCD_TEST_HELPER"

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

// TestFreshProcessRevertsAndReaps: a plugin process dies (SIGKILL) with a
// partition and a frozen member active. A fresh process reverts both by
// their handles, then its Teardown without Setup removes the namespaces,
// host link and data the dead one left — and nothing else.
func TestFreshProcessRevertsAndReaps(t *testing.T) {
	requireEtcd(t)
	stateDir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+stateDir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	helper := cmd.Process.Pid
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
	deadline := time.After(60 * time.Second)
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
			t.Fatal("helper plugin process not ready within 60s")
		}
	}
	part := faults[NetworkPartition]
	targetNS := fmt.Sprintf("%s%d-%s", nsPrefix, helper, part.Target)

	// The plugin process dies; its members die with it (parent-death
	// signal), its namespaces and their rules stay.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if tables, err := tablesIn(targetNS); err != nil || !slices.Contains(tables, tableName(helper, "partition")) {
		t.Fatalf("after the crash, want the partition table in %s: %v %v", targetNS, tables, err)
	}
	if len(ownedNamespaces(helper)) == 0 {
		t.Fatal("after the crash, want the dead process' namespaces still there")
	}

	fresh := newTestSubject(t, stateDir)
	ctx := context.Background()
	if err := fresh.Configure(ctx, sdk.ConfigureRequest{Options: options(t, fresh, nil)}); err != nil {
		t.Fatal(err)
	}
	rev, err := fresh.RevertChaos(ctx, sdk.RevertRequest{Handle: part.Handle, Fault: sdk.Fault{Kind: NetworkPartition}, Target: part.Target})
	if err != nil {
		t.Fatalf("fresh process reverting the partition: %v", err)
	}
	if !strings.Contains(rev.Detail, "healed the partition of "+part.Target) {
		t.Errorf("revert of the partition says %q", rev.Detail)
	}
	if tables, _ := tablesIn(targetNS); len(tables) != 0 {
		t.Errorf("partition table still in %s after the fresh process reverted it: %v", targetNS, tables)
	}
	fr := faults[FollowerFreeze]
	rev, err = fresh.RevertChaos(ctx, sdk.RevertRequest{Handle: fr.Handle, Fault: sdk.Fault{Kind: FollowerFreeze}, Target: fr.Target})
	if err != nil || !strings.Contains(rev.Detail, "gone") {
		t.Errorf("revert of the freeze of a member that died with its plugin: %q, %v", rev.Detail, err)
	}

	var said []string
	progress := sdk.NewProgress(func(_ sdk.Severity, msg string) { said = append(said, msg) })
	if err := fresh.Teardown(ctx, sdk.TeardownRequest{Progress: progress}); err != nil {
		t.Fatalf("teardown without setup: %v", err)
	}
	if !slices.ContainsFunc(said, func(s string) bool { return strings.Contains(s, "removed leftover network namespaces") }) {
		t.Errorf("teardown without setup did not say it removed the namespaces: %q", said)
	}
	assertNothingLeft(t, helper)
	if files, _ := filepath.Glob(filepath.Join(stateDir, "*.json")); len(files) != 0 {
		t.Errorf("state files left: %v", files)
	}
	// A second teardown finds nothing.
	said = nil
	if err := fresh.Teardown(ctx, sdk.TeardownRequest{Progress: progress}); err != nil || !slices.Contains(said, "nothing left behind by earlier plugin processes") {
		t.Errorf("second teardown: %q, %v", said, err)
	}
}

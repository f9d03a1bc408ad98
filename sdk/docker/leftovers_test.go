package docker

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/sdk/leftovers"
	"github.com/demohost/demohost/sdk/process"
)

// goneProcess is the identity of a process that has exited.
func goneProcess(t *testing.T) process.Identity {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	id, err := process.IdentityOf(cmd.Process.Pid)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// ownedRun creates, as plugin process owner would, an image, a network and
// a container in base's scope narrowed to owner.
func ownedRun(t *testing.T, base Scope, owner process.Identity, name string) *Target {
	t.Helper()
	tg, err := New(Owned(base, owner))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = tg.RemoveAll(ctx)
		_ = tg.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tag := "demohost-sdktest-" + base["demohost.test"] + "-" + name + ":latest"
	if _, err := tg.BuildImage(ctx, tag, sleeperBinary(t)); err != nil {
		t.Fatal(err)
	}
	nw := name + "-" + base["demohost.test"]
	if _, err := tg.CreateNetwork(ctx, nw); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Run(ctx, ContainerSpec{Name: nw, Image: tag, Network: nw}); err != nil {
		t.Fatal(err)
	}
	return tg
}

// What a plugin process that is gone created is removed — container,
// network and image — and what a running one created stays.
func TestReapLeftoversRemovesOnlyWhatGoneOwnersLeft(t *testing.T) {
	base := newTarget(t).Scope() // pings the engine; removes the scope when done
	dead := ownedRun(t, base, goneProcess(t), "dead")
	alive := ownedRun(t, base, leftovers.Self(), "alive")

	var lines []string
	warn := func(msg string) { lines = append(lines, msg) }
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := ReapLeftovers(ctx, base, warn); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "removed 1 leftover container from an earlier run that did not finish") {
		t.Errorf("progress %q, want one warning about 1 leftover container", lines)
	}
	owners, err := dead.owners(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(owners) != 0 {
		t.Errorf("the gone owner's container, network or image is still there: %v", owners)
	}
	if cs, err := alive.List(ctx); err != nil || len(cs) != 1 || cs[0].State != "running" {
		t.Errorf("the running owner's containers: %+v, %v; want its one container running", cs, err)
	}
	if owners, _ := alive.owners(ctx); !owners[leftovers.OwnerID(leftovers.Self())] {
		t.Errorf("the running owner's objects are gone")
	}
}

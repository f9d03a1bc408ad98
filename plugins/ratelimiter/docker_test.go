package ratelimiter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/docker"
)

// TestDockerRuntime runs the cluster as containers on the real Docker
// engine (images built here: Redis FROM scratch from the installed
// redis-server, the node FROM scratch from the plugin binary), pauses Redis
// with docker pause and kills a node with docker kill.
func TestDockerRuntime(t *testing.T) {
	target := needDocker(t)
	// A name no engine has, so the image is built from redis-server.
	s, log := setUp(t, map[string]string{"runtime": "docker", "redis_image": "demohost-test-absent-redis:none"})
	t.Logf("setup:\n%s", log)
	if s.cl.Kind() != "docker containers" {
		t.Fatalf("runtime %s", s.cl.Kind())
	}
	waitHealth(t, s, 10*time.Second, "the hot tenant throttled", func(h sdk.HealthSnapshot) bool { return metric(h, "denied") > 0 })

	inj := inject(t, s, pauseRedis)
	redisName := s.cl.(*dockerCluster).redisName()
	if want := "docker pause " + redisName; !strings.HasSuffix(inj.Detail, want) {
		t.Fatalf("inject detail %q, want it to end %q", inj.Detail, want)
	}
	rc, err := target.Inspect(context.Background(), redisName)
	if err != nil || !rc.Paused {
		t.Fatalf("redis container not paused after REDIS_PAUSE: %+v, %v", rc, err)
	}
	waitHealth(t, s, 5*time.Second, "redis_unreachable", violation(invRedisUnreachable))
	waitHealth(t, s, 5*time.Second, "over_limit", violation(invOverLimit))
	if got, want := revert(t, s, inj), "docker unpause "+redisName; got != want {
		t.Fatalf("revert says %q, want %q", got, want)
	}
	if got, want := revert(t, s, inj), "Redis container "+redisName+" was not paused"; got != want {
		t.Fatalf("reverting twice says %q, want %q", got, want)
	}
	waitHealth(t, s, 5*time.Second, "counter_drift", violation(invCounterDrift))

	kill := inject(t, s, sdk.Fault{Kind: sdk.ContainerKill, Target: "node-1"})
	if want := "killed node-1: docker kill " + s.cl.(*dockerCluster).containerName("node-1"); kill.Detail != want {
		t.Fatalf("inject detail %q, want %q", kill.Detail, want)
	}
	waitHealth(t, s, 5*time.Second, "node_down", violation(invNodeDown))
	if got := revert(t, s, kill); !strings.HasPrefix(got, "started node-1 again (container "+s.cl.(*dockerCluster).containerName("node-1")+", now on 127.0.0.1:") {
		t.Fatalf("revert says %q", got)
	}
	waitHealth(t, s, 15*time.Second, "all nodes UP again", allUp)
	waitHealth(t, s, 20*time.Second, "every violation to clear", noViolations)

	if err := s.Teardown(context.Background(), sdk.TeardownRequest{}); err != nil {
		t.Fatal(err)
	}
	mine, err := docker.New(docker.Owned(dockerScope, s.owner))
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	left, err := mine.List(context.Background())
	if err != nil || len(left) > 0 {
		t.Fatalf("containers left after teardown: %v (%v)", left, err)
	}
}

// needDocker returns a target of the subject's scope on the real engine,
// or fails the test when there is none (-short skips instead).
func needDocker(t testing.TB) *docker.Target {
	t.Helper()
	target, err := docker.New(dockerScope)
	if err == nil {
		err = target.Ping(context.Background())
	}
	if err != nil {
		if testing.Short() {
			t.Skip("-short: ", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	return target
}

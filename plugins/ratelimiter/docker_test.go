package ratelimiter

import (
	"context"
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
	target, err := docker.New(dockerScope)
	if err != nil {
		t.Skip(err)
	}
	defer target.Close()
	if err := target.Ping(context.Background()); err != nil {
		t.Skip(err)
	}
	// A name no engine has, so the image is built from redis-server.
	s, log := setUp(t, map[string]string{"runtime": "docker", "redis_image": "demohost-test-absent-redis:none"})
	t.Logf("setup:\n%s", log)
	if s.cl.Kind() != "docker containers" {
		t.Fatalf("runtime %s", s.cl.Kind())
	}
	waitHealth(t, s, 10*time.Second, "the hot tenant throttled", func(h *sdk.HealthSnapshot) bool { return metric(h, "denied") > 0 })

	inj, err := s.InjectChaos(context.Background(), &sdk.ChaosConfig{Type: sdk.RedisPause})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := target.Inspect(context.Background(), s.cl.(*dockerCluster).redisName())
	if err != nil || !rc.Paused {
		t.Fatalf("redis container not paused after REDIS_PAUSE: %+v, %v", rc, err)
	}
	waitHealth(t, s, 5*time.Second, "redis_unreachable", violation(invRedisUnreachable))
	waitHealth(t, s, 5*time.Second, "over_limit", violation(invOverLimit))
	if err := s.RevertChaos(context.Background(), inj.Handle, nil); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, s, 5*time.Second, "counter_drift", violation(invCounterDrift))

	kill, err := s.InjectChaos(context.Background(), &sdk.ChaosConfig{Type: sdk.ContainerKill, Target: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	waitHealth(t, s, 5*time.Second, "node_down", violation(invNodeDown))
	if err := s.RevertChaos(context.Background(), kill.Handle, nil); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, s, 15*time.Second, "all nodes UP again", allUp)
	waitHealth(t, s, 20*time.Second, "every violation to clear", noViolations)

	if err := s.Teardown(context.Background(), func(string) {}); err != nil {
		t.Fatal(err)
	}
	mine, err := docker.New(runScope(s.owner))
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	left, err := mine.List(context.Background())
	if err != nil || len(left) > 0 {
		t.Fatalf("containers left after teardown: %v (%v)", left, err)
	}
}

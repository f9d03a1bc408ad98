// Package testredis starts a real redis-server on a free loopback port for
// a test and stops it when the test ends.
package testredis

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/demohost/demohost/sdk/process"
	"github.com/redis/go-redis/v9"
)

// Need returns the path of redis-server. Without it the test fails saying
// what to install: a real-Redis test never passes without Redis. Only
// -short skips it.
func Need(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if testing.Short() {
			t.Skip("-short: redis-server not installed")
		}
		t.Fatal("redis-server not installed: apt-get install redis-server (or go test -short to skip the real-Redis tests)")
	}
	return bin
}

// Start runs redis-server (no persistence) and waits until it answers PING.
func Start(t testing.TB) (*process.Process, string) {
	t.Helper()
	bin := Need(t)
	port, err := process.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	dir := t.TempDir()
	p := process.New(process.Spec{
		Name: "redis", Path: bin, Dir: dir, LogPath: filepath.Join(dir, "redis.log"),
		Args: []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"},
	})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	if err := process.WaitReady(context.Background(), p, 10*time.Second, func(ctx context.Context) error {
		return rdb.Ping(ctx).Err()
	}); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	return p, addr
}

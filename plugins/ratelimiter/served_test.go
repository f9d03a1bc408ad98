package ratelimiter

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/host/subject"
	"github.com/demohost/demohost/internal/testkit"
	"github.com/demohost/demohost/plugins/ratelimiter/internal/testredis"
	"github.com/demohost/demohost/sdk"
)

// served launches the plugin binary with the host's own plugin client
// (pluginhost: go-plugin, protocol 2, mutual TLS, the wire converted at the
// edge), configures it with the defaults and sets it up; it is closed
// (reverting and tearing down) when tb ends.
func served(tb testing.TB) *pluginhost.Client {
	tb.Helper()
	testredis.Need(tb)
	tb.Setenv("XDG_STATE_HOME", tb.TempDir()) // the plugin inherits it
	p, err := pluginhost.Launch(pluginhost.Config{Path: pluginBinary})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Close)
	c, ctx := p.Subject, context.Background()
	d, err := c.Describe(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	opts := map[string]string{}
	for _, o := range d.Options {
		opts[o.Name] = o.Default
	}
	if err := c.Configure(ctx, opts); err != nil {
		tb.Fatal(err)
	}
	if err := c.Setup(ctx, func(subject.Line) {}); err != nil {
		tb.Fatalf("setup: %v", err)
	}
	return c
}

// healthWatch follows one health stream: it records when each snapshot
// arrives and whether it holds a redis_unreachable violation.
type healthWatch struct {
	mu      sync.Mutex
	present bool      // in the latest snapshot
	since   time.Time // arrival of the first snapshot of the current presence
}

func (w *healthWatch) saw(h subject.Health) {
	now := time.Now()
	present := false
	for _, v := range h.Violations {
		present = present || v.Invariant == invRedisUnreachable
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if present && !w.present {
		w.since = now
	}
	w.present = present
}

// seen returns when redis_unreachable arrived, if it is present now and
// arrived after t.
func (w *healthWatch) seen(t time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.since, w.present && w.since.After(t)
}

func (w *healthWatch) clear() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.present
}

// watchStream opens the host's health stream at interval.
func watchStream(tb testing.TB, c *pluginhost.Client, interval time.Duration) *healthWatch {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	w := &healthWatch{}
	go func() { _ = c.WatchHealth(ctx, interval, w.saw) }()
	return w
}

// TestServedHealthStreamPushesRedisUnreachable runs the real plugin binary
// over the wire with a health interval of a minute: redis_unreachable can
// only arrive within seconds of the pause if the plugin pushes it.
func TestServedHealthStreamPushesRedisUnreachable(t *testing.T) {
	c := served(t)
	w := watchStream(t, c, time.Minute)
	ctx := context.Background()
	paused := time.Now()
	pause := subject.Fault{Kind: sdk.RedisPause}
	inj, err := c.InjectChaos(ctx, pause)
	if err != nil {
		t.Fatal(err)
	}
	revert := subject.Revert{Handle: inj.Handle, Fault: pause, Target: inj.Target}
	defer c.RevertChaos(ctx, revert)
	testkit.WaitFor(t, 5*time.Second, "redis_unreachable on a one-minute health stream (only a push brings it)", func() bool {
		_, ok := w.seen(paused)
		return ok
	})
	at, _ := w.seen(paused)
	t.Logf("redis_unreachable pushed %s after the pause", at.Sub(paused).Round(time.Millisecond))
	rev, err := c.RevertChaos(ctx, revert)
	if err != nil || !strings.HasPrefix(rev, "SIGCONT redis-server pid ") {
		t.Fatalf("revert over the wire: %q, %v; want a line saying SIGCONT redis-server pid N", rev, err)
	}
	testkit.WaitFor(t, 5*time.Second, "redis_unreachable to clear on the one-minute stream (only a push clears it)", w.clear)
}

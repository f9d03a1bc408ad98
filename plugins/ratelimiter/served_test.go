package ratelimiter

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/demohost/demohost/internal/testkit"
	"github.com/demohost/demohost/internal/wire"
	"github.com/demohost/demohost/plugins/ratelimiter/internal/testredis"
	"github.com/demohost/demohost/sdk"
)

// wirePlugin dispenses the subject as the host's copy of the wire client.
type wirePlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (wirePlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("client only")
}

func (wirePlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return wire.NewSubjectClient(c), nil
}

// served launches the plugin binary as demohost does (go-plugin, protocol
// 2, mutual TLS), configures it with the defaults and sets it up; it is
// shut down (reverting and tearing down) when tb ends.
func served(tb testing.TB) wire.SubjectClient {
	tb.Helper()
	testredis.Need(tb)
	cmd := exec.Command(pluginBinary)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+tb.TempDir())
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  plugin.HandshakeConfig{MagicCookieKey: sdk.MagicCookieKey, MagicCookieValue: sdk.MagicCookieValue},
		VersionedPlugins: map[int]plugin.PluginSet{sdk.ProtocolVersion: {"subject": wirePlugin{}}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           hclog.NewNullLogger(),
	})
	tb.Cleanup(pc.Kill)
	rpc, err := pc.Client()
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := rpc.Dispense("subject")
	if err != nil {
		tb.Fatal(err)
	}
	c := raw.(wire.SubjectClient)
	ctx := context.Background()
	d, err := c.Describe(ctx, &wire.DescribeRequest{})
	if err != nil {
		tb.Fatal(err)
	}
	opts := map[string]string{}
	for _, o := range d.GetOptions() {
		opts[o.GetName()] = o.GetDefault()
	}
	if _, err := c.Configure(ctx, &wire.ConfigureRequest{Options: opts}); err != nil {
		tb.Fatal(err)
	}
	setup, err := c.Setup(ctx, &wire.SetupRequest{})
	if err != nil {
		tb.Fatal(err)
	}
	for {
		_, err := setup.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("setup: %v", err)
		}
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

// follow reads snapshots from next until it fails.
func (w *healthWatch) follow(next func() (*wire.HealthSnapshot, error)) {
	for {
		h, err := next()
		if err != nil {
			return
		}
		w.saw(h)
	}
}

func (w *healthWatch) saw(h *wire.HealthSnapshot) {
	now := time.Now()
	present := false
	for _, v := range h.GetViolations() {
		present = present || v.GetInvariant() == invRedisUnreachable
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
func watchStream(tb testing.TB, c wire.SubjectClient, interval time.Duration) *healthWatch {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	stream, err := c.WatchHealth(ctx, &wire.WatchHealthRequest{Interval: durationpb.New(interval)})
	if err != nil {
		tb.Fatal(err)
	}
	w := &healthWatch{}
	go w.follow(stream.Recv)
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
	inj, err := c.InjectChaos(ctx, &wire.InjectChaosRequest{Fault: &wire.Fault{Kind: sdk.RedisPause}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.RevertChaos(ctx, &wire.RevertChaosRequest{Handle: inj.GetHandle()})
	testkit.WaitFor(t, 5*time.Second, "redis_unreachable on a one-minute health stream (only a push brings it)", func() bool {
		_, ok := w.seen(paused)
		return ok
	})
	at, _ := w.seen(paused)
	t.Logf("redis_unreachable pushed %s after the pause", at.Sub(paused).Round(time.Millisecond))
	rev, err := c.RevertChaos(ctx, &wire.RevertChaosRequest{Handle: inj.GetHandle(), Fault: &wire.Fault{Kind: sdk.RedisPause}, Target: inj.GetTarget()})
	if err != nil || !strings.HasPrefix(rev.GetDetail(), "SIGCONT redis-server pid ") {
		t.Fatalf("revert over the wire: %q, %v; want a line saying SIGCONT redis-server pid N", rev.GetDetail(), err)
	}
	testkit.WaitFor(t, 5*time.Second, "redis_unreachable to clear on the one-minute stream (only a push clears it)", w.clear)
}

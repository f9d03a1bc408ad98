package runner_test

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/demohost/demohost/host/chaoslog"
	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/internal/testkit"
	"github.com/demohost/demohost/sdk"
)

// examplePlugin is the example subject's executable, built once by TestMain.
var examplePlugin string

func TestMain(m *testing.M) {
	testkit.MainWithBuilt(m, &examplePlugin, "demohost-example", testkit.ExamplePlugin)
}

// launched is a running example plugin.
type launched struct {
	client   *plugin.Client
	subject  *sdk.Client
	desc     *sdk.Description
	chapters []*sdk.Chapter
}

// launchExample starts the example plugin over gRPC, configures it with
// opts and fetches its chapters. The plugin is killed when the test ends.
func launchExample(t testing.TB, opts map[string]string) *launched {
	t.Helper()
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.VersionedPlugins(nil),
		Cmd:              exec.Command(examplePlugin),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Managed:          true,
		StartTimeout:     10 * time.Second,
		Logger:           hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("start example plugin: %v", err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatalf("dispense: %v", err)
	}
	subject := raw.(*sdk.Client)
	ctx := context.Background()
	desc, err := subject.Describe(ctx)
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	if err := subject.Configure(ctx, opts); err != nil {
		t.Fatalf("configure: %v", err)
	}
	chapters, err := subject.Chapters(ctx)
	if err != nil {
		t.Fatalf("chapters: %v", err)
	}
	if err := sdk.ValidateChapters(chapters, desc.ChaosTypes); err != nil {
		t.Fatalf("example chapters invalid: %v", err)
	}
	return &launched{client: client, subject: subject, desc: desc, chapters: chapters}
}

// fastOptions keep the example's timings short.
var fastOptions = map[string]string{"countdown": "0s", "detect_after": "100ms", "target": "node-2"}

// config is a runner config for the launched plugin, observed through a spy.
func (l *launched) config(headless bool) (runner.Config, *spy) {
	s := &spy{Subject: l.subject, health: l.subject}
	return runner.Config{
		Subject:        s,
		Description:    l.desc,
		Options:        fastOptions,
		Chapters:       l.chapters,
		Headless:       headless,
		HealthInterval: 50 * time.Millisecond,
		Dwell:          50 * time.Millisecond,
		RPCTimeout:     5 * time.Second,
		SetupTimeout:   10 * time.Second,
	}, s
}

// spy passes every call to the real plugin and remembers what it saw: the
// calls made, and the plugin's own health just before Teardown (which shows
// whether every fault was really reverted).
type spy struct {
	runner.Subject
	health interface {
		Health(context.Context) (*sdk.HealthSnapshot, error)
	}

	mu             sync.Mutex
	entered        []int
	injected       []string
	reverted       []string
	beforeTeardown *sdk.HealthSnapshot
}

func (s *spy) EnterChapter(ctx context.Context, index int, status func(*sdk.ChapterEvent)) error {
	s.mu.Lock()
	s.entered = append(s.entered, index)
	s.mu.Unlock()
	return s.Subject.EnterChapter(ctx, index, status)
}

func (s *spy) InjectChaos(ctx context.Context, cfg *sdk.ChaosConfig) (*sdk.Injected, error) {
	inj, err := s.Subject.InjectChaos(ctx, cfg)
	if err == nil {
		s.mu.Lock()
		s.injected = append(s.injected, inj.Handle)
		s.mu.Unlock()
	}
	return inj, err
}

func (s *spy) RevertChaos(ctx context.Context, handle string, cfg *sdk.ChaosConfig) (string, error) {
	d, err := s.Subject.RevertChaos(ctx, handle, cfg)
	if err == nil {
		s.mu.Lock()
		s.reverted = append(s.reverted, handle)
		s.mu.Unlock()
	}
	return d, err
}

func (s *spy) Teardown(ctx context.Context, progress func(*sdk.ProgressEvent)) error {
	h, err := s.health.Health(ctx)
	s.mu.Lock()
	if err == nil {
		s.beforeTeardown = h
	}
	s.mu.Unlock()
	return s.Subject.Teardown(ctx, progress)
}

// assertAllUpBeforeTeardown fails unless the plugin reported every node UP
// and no violation just before it was torn down.
func (s *spy) assertAllUpBeforeTeardown(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.beforeTeardown
	if h == nil {
		t.Fatal("no health taken before teardown (was Teardown called?)")
	}
	if len(h.Nodes) == 0 {
		t.Fatal("no nodes before teardown")
	}
	for _, n := range h.Nodes {
		if n.State != sdk.Up {
			t.Errorf("before teardown %s is %s: a fault was left behind", n.Id, n.State)
		}
	}
}

// started runs r in the background; wait returns what Run returned.
func started(t *testing.T, ctx context.Context, r *runner.Runner) (wait func() (*journal.Journal, error)) {
	t.Helper()
	type result struct {
		j   *journal.Journal
		err error
	}
	done := make(chan result, 1)
	go func() {
		j, err := r.Run(ctx)
		done <- result{j, err}
	}()
	return func() (*journal.Journal, error) {
		select {
		case res := <-done:
			return res.j, res.err
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return within 30s")
			return nil, nil
		}
	}
}

// waitSnapshot waits until a snapshot satisfies ok and returns it.
func waitSnapshot(t *testing.T, ch <-chan runner.Snapshot, timeout time.Duration, what string, ok func(runner.Snapshot) bool) runner.Snapshot {
	t.Helper()
	deadline := time.After(timeout)
	var last runner.Snapshot
	for {
		select {
		case s, open := <-ch:
			if !open {
				t.Fatalf("runner ended while waiting for %s; last snapshot: %s", what, describe(last))
			}
			last = s
			if ok(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s; last snapshot: %s", what, describe(last))
		}
	}
}

func describe(s runner.Snapshot) string {
	out := fmt.Sprintf("phase=%d index=%d notice=%q pluginError=%q chaos=%d", s.Phase, s.Index, s.Notice, s.PluginError, len(s.Chaos))
	for _, c := range s.Chapters {
		out += fmt.Sprintf(" [%s: %s]", c.Title, c.Status)
	}
	if n := len(s.Events); n > 0 {
		out += " last event: " + s.Events[n-1].Message
	}
	return out
}

// attachChaosLog gives cfg a real on-disk chaos log in a fresh directory,
// as demohost does, and returns it with its directory.
func attachChaosLog(t *testing.T, cfg *runner.Config) (*chaoslog.Log, string) {
	t.Helper()
	dir := t.TempDir()
	log, err := chaoslog.Open(dir, examplePlugin, cfg.Options)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ChaosLog = log
	return log, dir
}

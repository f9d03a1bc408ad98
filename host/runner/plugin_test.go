package runner_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/ledger"
	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/subject"
	"github.com/demohost/demohost/internal/testkit"
)

// examplePlugin is the example subject's executable, built once by TestMain.
var examplePlugin string

func TestMain(m *testing.M) {
	testkit.MainWithBuilt(m, &examplePlugin, "demohost-example", testkit.ExamplePlugin)
}

// launched is a running example plugin, configured, with its chapters
// checked and their faults' parameters filled in, as the host has them.
type launched struct {
	plugin   *pluginhost.Plugin
	desc     subject.Description
	options  map[string]string
	chapters []subject.Chapter
}

// launchExample starts the example plugin, configures it with opts and
// fetches its chapters. The plugin is stopped when the test ends.
func launchExample(t testing.TB, opts map[string]string) *launched {
	t.Helper()
	p, err := pluginhost.Launch(pluginhost.Config{Path: examplePlugin})
	if err != nil {
		t.Fatalf("start example plugin: %v", err)
	}
	t.Cleanup(p.Close)
	ctx := context.Background()
	desc, err := p.Subject.Describe(ctx)
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	options, err := subject.CheckOptions(desc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Subject.Configure(ctx, options); err != nil {
		t.Fatalf("configure: %v", err)
	}
	chapters, err := p.Subject.Chapters(ctx)
	if err != nil {
		t.Fatalf("chapters: %v", err)
	}
	if err := subject.CheckChapters(desc, chapters); err != nil {
		t.Fatalf("example chapters invalid: %v", err)
	}
	for i, c := range chapters {
		if c.Fault != nil {
			f, err := subject.ResolveFault(desc, *c.Fault)
			if err != nil {
				t.Fatal(err)
			}
			chapters[i].Fault = &f
		}
	}
	return &launched{plugin: p, desc: desc, options: options, chapters: chapters}
}

// fastOptions keep the example's timings short.
var fastOptions = map[string]string{"countdown": "0s", "detect_after": "100ms", "target": "node-2"}

// config is a runner config for the launched plugin, observed through a spy.
func (l *launched) config(headless bool) (runner.Config, *spy) {
	s := &spy{Plugin: l.plugin.Subject, health: l.plugin.Subject.Health}
	return runner.Config{
		Plugin:         s,
		Description:    l.desc,
		Options:        l.options,
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
	subject.Plugin
	health func(context.Context) (subject.Health, error)

	mu             sync.Mutex
	entered        []string
	injected       []string
	reverted       []string
	beforeTeardown *subject.Health
}

func (s *spy) EnterChapter(ctx context.Context, id string, status func(subject.Line)) error {
	s.mu.Lock()
	s.entered = append(s.entered, id)
	s.mu.Unlock()
	return s.Plugin.EnterChapter(ctx, id, status)
}

func (s *spy) InjectChaos(ctx context.Context, f subject.Fault) (subject.Injected, error) {
	inj, err := s.Plugin.InjectChaos(ctx, f)
	if err == nil {
		s.mu.Lock()
		s.injected = append(s.injected, inj.Handle)
		s.mu.Unlock()
	}
	return inj, err
}

func (s *spy) RevertChaos(ctx context.Context, r subject.Revert) (string, error) {
	d, err := s.Plugin.RevertChaos(ctx, r)
	if err == nil {
		s.mu.Lock()
		s.reverted = append(s.reverted, r.Handle)
		s.mu.Unlock()
	}
	return d, err
}

func (s *spy) Teardown(ctx context.Context, progress func(subject.Line)) error {
	h, err := s.health(ctx)
	s.mu.Lock()
	if err == nil {
		s.beforeTeardown = &h
	}
	s.mu.Unlock()
	return s.Plugin.Teardown(ctx, progress)
}

// calls returns what the spy saw.
func (s *spy) calls() (entered, injected, reverted []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.entered...), append([]string(nil), s.injected...), append([]string(nil), s.reverted...)
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
		if n.State != subject.Up {
			t.Errorf("before teardown %s is %s: a fault was left behind", n.ID, n.State)
		}
	}
	if len(h.Violations) != 0 {
		t.Errorf("before teardown the plugin reports %+v: a fault was left behind", h.Violations)
	}
}

// started runs r in the background; wait returns what Run returned.
func started(t *testing.T, ctx context.Context, r *runner.Runner) (wait func() (*journal.Journal, error)) {
	t.Helper()
	go func() { _, _ = r.Run(ctx) }()
	return func() (*journal.Journal, error) {
		select {
		case <-r.Done():
			return r.Result()
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

// attachLedger gives cfg a ledger with its log on disk in a fresh
// directory, as a session does, and returns it with its directory.
func attachLedger(t *testing.T, cfg *runner.Config) (*ledger.Ledger, string) {
	t.Helper()
	dir := t.TempDir()
	l, err := ledger.Open(dir, ledger.Run{Plugin: examplePlugin, Options: cfg.Options})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Ledger = l
	return l, dir
}

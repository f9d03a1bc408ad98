package runner_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/demohost/demohost/host/chaoslog"
	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/sdk"
)

// fakeSubject is an in-test subject for the failures the example plugin
// cannot provoke on demand: a health stream that breaks.
type fakeSubject struct {
	// brokenStreams is how many WatchHealth calls fail before one works.
	brokenStreams int
	// setupErr is what Setup returns.
	setupErr error
	// injects makes InjectChaos succeed (it fails otherwise).
	injects bool
	// hangRevert makes RevertChaos hang until its context ends.
	hangRevert bool
	// health returns the nth snapshot of a stream (nil: one UP node).
	health func(n int) *sdk.HealthSnapshot
	// silent makes the health stream send nothing.
	silent bool

	mu        sync.Mutex
	watches   int
	teardowns int
}

func (f *fakeSubject) Setup(context.Context, func(*sdk.ProgressEvent)) error { return f.setupErr }

func (f *fakeSubject) Teardown(context.Context, func(*sdk.ProgressEvent)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.teardowns++
	return nil
}
func (f *fakeSubject) EnterChapter(context.Context, int, func(*sdk.ChapterEvent)) error {
	return nil
}

func (f *fakeSubject) InjectChaos(context.Context, *sdk.ChaosConfig) (*sdk.Injected, error) {
	if !f.injects {
		return nil, errors.New("fakeSubject injects nothing")
	}
	return &sdk.Injected{Handle: "fake:1", Target: "only"}, nil
}

func (f *fakeSubject) RevertChaos(ctx context.Context, _ string, _ *sdk.ChaosConfig) (string, error) {
	if f.hangRevert {
		<-ctx.Done()
		return "", ctx.Err()
	}
	return "", nil
}

func (f *fakeSubject) WatchHealth(ctx context.Context, interval time.Duration, snap func(*sdk.HealthSnapshot)) error {
	f.mu.Lock()
	f.watches++
	broken := f.watches <= f.brokenStreams
	f.mu.Unlock()
	if broken {
		return errors.New("connection reset by fakeSubject")
	}
	if f.silent {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for n := 0; ; n++ {
		s := &sdk.HealthSnapshot{Nodes: []*sdk.Node{{Id: "only", State: sdk.Up}}}
		if f.health != nil {
			s = f.health(n)
		}
		s.TakenAt = sdk.Time(time.Now())
		snap(s)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func TestHealthStreamReconnectsAfterAnError(t *testing.T) {
	fake := &fakeSubject{brokenStreams: 2}
	r := runner.New(runner.Config{
		Subject:        fake,
		Description:    &sdk.Description{Name: "fake"},
		Chapters:       []*sdk.Chapter{{Title: "Up", Expectations: []*sdk.Expectation{sdk.ExpectAllNodes(sdk.Up, 10*time.Second)}}},
		Headless:       true,
		HealthInterval: 20 * time.Millisecond,
	})
	j, err := r.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if j.Result != journal.Passed {
		t.Errorf("result = %q, want passed once the stream is back; chapters %+v", j.Result, j.Chapters)
	}
	broken := 0
	for _, e := range j.Events {
		if e.Kind == journal.KindError && strings.Contains(e.Message, "health stream: connection reset by fakeSubject") {
			broken++
		}
	}
	if broken != 2 {
		t.Errorf("journal records %d broken streams, want 2; events %+v", broken, j.Events)
	}
	if fake.watches < 3 {
		t.Errorf("WatchHealth called %d times, want at least 3", fake.watches)
	}
}

func TestPluginCrashMidChaosAbortsAHeadlessRun(t *testing.T) {
	// node_down is never raised, so the run waits on the kill chapter.
	l := launchExample(t, map[string]string{"countdown": "0s", "detect_after": "1h", "target": "node-2"})
	cfg, _ := l.config(true)
	log, logDir := attachChaosLog(t, &cfg)
	r := runner.New(cfg)
	snaps, _ := r.Subscribe()
	wait := started(t, context.Background(), r)
	atChaos(t, snaps)

	pid := l.client.ReattachConfig().Pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill plugin: %v", err)
	}
	s := waitSnapshot(t, snaps, 10*time.Second, "the plugin error", func(s runner.Snapshot) bool { return s.PluginError != "" })
	if !strings.Contains(s.PluginError, "plugin unreachable") {
		t.Errorf("plugin error = %q", s.PluginError)
	}
	if s.Health.GetError() == "" || nodeState(s, "node-1") != sdk.Unknown {
		t.Errorf("health after the crash = %v, want every node UNKNOWN with the error", s.Health)
	}
	j, err := wait()
	if err == nil {
		t.Error("Run returned no error after the plugin died")
	}
	if j.Result != runner.ResultAborted {
		t.Errorf("result = %q, want aborted", j.Result)
	}
	if c := j.Chaos[0]; c.RevertedAt != nil || c.RevertError == "" || c.RevertedBy != "exit" {
		t.Errorf("chaos = %+v, want the failed exit revert journalled with its error", c)
	}
	// The on-disk chaos log still lists the fault, for demohost recover.
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	left, err := chaoslog.FindAbandoned(logDir)
	if err != nil || len(left) != 1 || len(left[0].Active) != 1 || left[0].Active[0].Handle != j.Chaos[0].Handle {
		t.Errorf("abandoned chaos logs = %+v (%v), want the one unreverted fault", left, err)
	}
}

func TestFailedSetupAbortsAndStillTearsDown(t *testing.T) {
	fake := &fakeSubject{setupErr: errors.New("port 6379 already in use")}
	r := runner.New(runner.Config{
		Subject:     fake,
		Description: &sdk.Description{Name: "fake"},
		Chapters:    []*sdk.Chapter{{Title: "Never reached"}},
		Headless:    true,
	})
	j, err := r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "port 6379 already in use") {
		t.Errorf("Run error = %v, want the setup error", err)
	}
	if j.Result != runner.ResultAborted || j.Chapters[0].Status != journal.Skipped {
		t.Errorf("result %q, chapters %+v: want aborted, chapter skipped", j.Result, j.Chapters)
	}
	if fake.teardowns != 1 {
		t.Errorf("teardowns = %d, want 1 (a failed setup may have started something)", fake.teardowns)
	}
}

func TestInteractiveRunStaysUpAfterAPluginError(t *testing.T) {
	fake := &fakeSubject{}
	r := runner.New(runner.Config{
		Subject:     fake,
		Description: &sdk.Description{Name: "fake"},
		Chapters: []*sdk.Chapter{
			{Title: "Break it", Chaos: &sdk.ChaosConfig{Name: "boom", Type: sdk.ContainerKill}},
			{Title: "After"},
		},
		HealthInterval: 20 * time.Millisecond,
	})
	snaps, _ := r.Subscribe()
	wait := started(t, context.Background(), r)
	s := waitSnapshot(t, snaps, 5*time.Second, "the plugin error", func(s runner.Snapshot) bool { return s.PluginError != "" })
	if !strings.Contains(s.PluginError, "fakeSubject injects nothing") || s.Phase != runner.PhaseRunning {
		t.Errorf("plugin error %q in phase %d, want the inject error while still running", s.PluginError, s.Phase)
	}
	r.Next()
	waitSnapshot(t, snaps, 5*time.Second, "the next chapter", func(s runner.Snapshot) bool { return s.Index == 1 })
	r.Quit()
	j, err := wait()
	if err == nil {
		t.Error("Run returned no error after a failed RPC")
	}
	if j.Chapters[0].Status != journal.Failed || !strings.Contains(j.Chapters[0].Error, "inject chaos") {
		t.Errorf("chapter = %+v, want failed with the inject error", j.Chapters[0])
	}
}

func TestSecondQuitStopsWaitingOnAHungRevert(t *testing.T) {
	fake := &fakeSubject{injects: true, hangRevert: true}
	r := runner.New(runner.Config{
		Subject:     fake,
		Description: &sdk.Description{Name: "fake"},
		Chapters: []*sdk.Chapter{
			{Title: "Break it", Chaos: &sdk.ChaosConfig{Name: "boom", Type: sdk.ContainerKill}},
			{Title: "After"},
		},
		RPCTimeout: time.Hour,
	})
	snaps, _ := r.Subscribe()
	wait := started(t, context.Background(), r)
	waitSnapshot(t, snaps, 5*time.Second, "the fault active", func(s runner.Snapshot) bool { return len(s.Chaos) == 1 })
	r.Quit()
	waitSnapshot(t, snaps, 5*time.Second, "stopping", func(s runner.Snapshot) bool { return s.Phase == runner.PhaseStopping })
	r.Quit()
	j, _ := wait() // fails the test if Run hangs
	if c := j.Chaos[0]; c.RevertedAt != nil || !strings.Contains(c.RevertError, "context canceled") {
		t.Errorf("chaos = %+v, want the abandoned revert journalled as failed", c)
	}
	if fake.teardowns != 1 {
		t.Errorf("teardowns = %d, want 1", fake.teardowns)
	}
}

func TestSubjectOutageShowsNodesUnknown(t *testing.T) {
	fake := &fakeSubject{health: func(n int) *sdk.HealthSnapshot {
		if n < 3 {
			return &sdk.HealthSnapshot{Nodes: []*sdk.Node{{Id: "redis", State: sdk.Up}}}
		}
		return &sdk.HealthSnapshot{Error: "dial tcp 127.0.0.1:6379: connection refused"}
	}}
	r := runner.New(runner.Config{
		Subject:        fake,
		Description:    &sdk.Description{Name: "fake"},
		Chapters:       []*sdk.Chapter{{Title: "Watch"}},
		HealthInterval: 10 * time.Millisecond,
	})
	snaps, _ := r.Subscribe()
	wait := started(t, context.Background(), r)
	s := waitSnapshot(t, snaps, 5*time.Second, "the outage", func(s runner.Snapshot) bool { return s.Health.GetError() != "" })
	if nodeState(s, "redis") != sdk.Unknown || !strings.Contains(s.Health.Nodes[0].Detail, "connection refused") {
		t.Errorf("health during the outage = %v, want redis UNKNOWN with the error", s.Health)
	}
	r.Quit()
	j, err := wait()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !hasEvent(j, journal.KindError, "subject could not be observed: dial tcp") {
		t.Errorf("outage not in the events: %+v", j.Events)
	}
}

func TestRestartedPluginTakesOverAndRevertsOnExit(t *testing.T) {
	l := launchExample(t, fastOptions)
	r, _, snaps, wait := interactive(t, l, context.Background())
	r.Next()
	atChaos(t, snaps)
	if err := syscall.Kill(l.client.ReattachConfig().Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill plugin: %v", err)
	}
	waitSnapshot(t, snaps, 10*time.Second, "the plugin error", func(s runner.Snapshot) bool { return s.PluginError != "" })

	fresh := launchExample(t, fastOptions)
	r.Restart(fresh.subject)
	waitSnapshot(t, snaps, 10*time.Second, "the restarted plugin's health", func(s runner.Snapshot) bool {
		return s.PluginError == "" && s.Health.GetError() == "" && nodeState(s, "node-1") == sdk.Up
	})
	r.Quit()
	j, err := wait()
	if err != nil {
		t.Fatalf("Run: %v (the plugin error should be cleared by the restart)", err)
	}
	if c := j.Chaos[0]; c.RevertedBy != "exit" || c.RevertedAt == nil || c.RevertError != "" {
		t.Errorf("chaos = %+v, want reverted on exit through the restarted plugin", c)
	}
	if !hasEvent(j, journal.KindSetup, "plugin restarted") {
		t.Errorf("restart not in the events")
	}
}

func TestCountdownPublishesEverySecond(t *testing.T) {
	// With a silent health stream, only the countdown itself publishes.
	fake := &fakeSubject{injects: true, silent: true}
	r := runner.New(runner.Config{
		Subject:     fake,
		Description: &sdk.Description{Name: "fake"},
		Chapters: []*sdk.Chapter{{
			Title: "Break it", Chaos: &sdk.ChaosConfig{Name: "boom", Type: sdk.ContainerKill},
			ChaosCountdown: sdk.Dur(2 * time.Second),
		}},
	})
	snaps, _ := r.Subscribe()
	wait := started(t, context.Background(), r)
	var left []time.Duration
	waitSnapshot(t, snaps, 10*time.Second, "the fault injected", func(s runner.Snapshot) bool {
		if s.Current != nil && !s.Current.CountdownUntil.IsZero() {
			left = append(left, time.Until(s.Current.CountdownUntil).Round(time.Second))
		}
		return len(s.Chaos) == 1
	})
	r.Quit()
	if _, err := wait(); err != nil {
		t.Fatal(err)
	}
	if len(left) < 2 || left[0] != 2*time.Second || left[len(left)-1] != time.Second {
		t.Errorf("countdown snapshots showed %v, want 2s then 1s", left)
	}
}

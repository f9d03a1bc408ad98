package runner_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/ledger"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/subject"
)

// fakeSubject is an in-test plugin for the failures the example plugin
// cannot provoke on demand: a health stream that breaks, a Setup or an
// injection that fails, a revert that hangs.
type fakeSubject struct {
	// brokenStreams is how many WatchHealth calls fail before one works.
	brokenStreams int
	// setupErr is what Setup returns.
	setupErr error
	// injectErr is what InjectChaos returns (nil: it succeeds).
	injectErr error
	// hangRevert makes RevertChaos hang until its context ends.
	hangRevert bool
	// health returns the nth snapshot of a stream (nil: one UP node).
	health func(n int) subject.Health
	// silent makes the health stream send nothing.
	silent bool

	mu        sync.Mutex
	watches   int
	teardowns int
}

func (f *fakeSubject) Setup(context.Context, func(subject.Line)) error { return f.setupErr }

func (f *fakeSubject) Teardown(context.Context, func(subject.Line)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.teardowns++
	return nil
}

func (f *fakeSubject) EnterChapter(context.Context, string, func(subject.Line)) error {
	return nil
}

func (f *fakeSubject) InjectChaos(context.Context, subject.Fault) (subject.Injected, error) {
	if f.injectErr != nil {
		return subject.Injected{}, f.injectErr
	}
	return subject.Injected{Handle: "fake:1", Target: "only"}, nil
}

func (f *fakeSubject) RevertChaos(ctx context.Context, _ subject.Revert) (string, error) {
	if f.hangRevert {
		<-ctx.Done()
		return "", ctx.Err()
	}
	return "", nil
}

func (f *fakeSubject) WatchHealth(ctx context.Context, interval time.Duration, each func(subject.Health)) error {
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
		h := subject.Health{Nodes: []subject.Node{{ID: "only", State: subject.Up}}}
		if f.health != nil {
			h = f.health(n)
		}
		h.TakenAt = time.Now()
		each(h)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (f *fakeSubject) counts() (watches, teardowns int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watches, f.teardowns
}

// fakeDesc declares the one fault kind the fake chapters use.
var fakeDesc = subject.Description{Name: "fake", Faults: []subject.FaultKind{{Kind: "BOOM"}}}

// boom is a chapter injecting the fake's fault.
func boom(title string) subject.Chapter {
	return subject.Chapter{ID: "boom", Title: title, Fault: &subject.Fault{Kind: "BOOM", Name: "boom"}}
}

func TestHealthStreamReconnectsAfterAnError(t *testing.T) {
	fake := &fakeSubject{brokenStreams: 2}
	r := runner.New(runner.Config{
		Plugin:      fake,
		Description: fakeDesc,
		Chapters: []subject.Chapter{{ID: "up", Title: "Up", Expectations: []subject.Expectation{
			{Mode: subject.Eventually, Check: subject.Check{Kind: subject.CheckAllNodes, State: subject.Up}, Within: 10 * time.Second},
		}}},
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
	if watches, _ := fake.counts(); watches < 3 {
		t.Errorf("WatchHealth called %d times, want at least 3", watches)
	}
}

func TestPluginCrashMidChaosAbortsAHeadlessRun(t *testing.T) {
	// node_down is never raised, so the run waits on the kill chapter.
	l := launchExample(t, map[string]string{"countdown": "0s", "detect_after": "1h", "target": "node-2"})
	cfg, _ := l.config(true)
	log, logDir := attachLedger(t, &cfg)
	r := runner.New(cfg)
	snaps, _ := r.Subscribe()
	wait := started(t, context.Background(), r)
	atChaos(t, snaps)

	if err := syscall.Kill(l.plugin.PID(), syscall.SIGKILL); err != nil {
		t.Fatalf("kill plugin: %v", err)
	}
	s := waitSnapshot(t, snaps, 10*time.Second, "the plugin error", func(s runner.Snapshot) bool { return s.PluginError != "" })
	if !strings.Contains(s.PluginError, "plugin unreachable") {
		t.Errorf("plugin error = %q", s.PluginError)
	}
	if s.Health == nil || s.Health.Error == "" || nodeState(s, "node-1") != subject.Unknown {
		t.Errorf("health after the crash = %v, want every node UNKNOWN with the error", s.Health)
	}
	j, err := wait()
	if err == nil {
		t.Error("Run returned no error after the plugin died")
	}
	if j.Result != runner.ResultAborted {
		t.Errorf("result = %q, want aborted", j.Result)
	}
	// The chapter the plugin died in did not pass (it has no expectation of
	// its own left pending to say so).
	if c := j.Chapters[2]; c.Status != journal.Failed || !strings.Contains(c.Error, "the run ended: plugin unreachable") {
		t.Errorf("the chapter the plugin died in = %s %q, want failed, saying why", c.Status, c.Error)
	}
	if c := j.Chaos[0]; c.RevertedAt != nil || c.RevertError == "" || c.RevertedBy != "exit" {
		t.Errorf("chaos = %+v, want the failed exit revert journalled with its error", c)
	}
	// The on-disk chaos log still lists the fault, for demohost recover.
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	left, err := ledger.FindAbandoned(logDir)
	if err != nil || len(left) != 1 || len(left[0].Active) != 1 || left[0].Active[0].Handle != j.Chaos[0].Handle {
		t.Errorf("abandoned chaos logs = %+v (%v), want the one unreverted fault", left, err)
	}
}

func TestFailedSetupAbortsAndStillTearsDown(t *testing.T) {
	fake := &fakeSubject{setupErr: errors.New("port 6379 already in use")}
	r := runner.New(runner.Config{
		Plugin:      fake,
		Description: fakeDesc,
		Chapters:    []subject.Chapter{{ID: "never", Title: "Never reached"}},
		Headless:    true,
	})
	j, err := r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "port 6379 already in use") {
		t.Errorf("Run error = %v, want the setup error", err)
	}
	if j.Result != runner.ResultAborted || j.Chapters[0].Status != journal.Skipped {
		t.Errorf("result %q, chapters %+v: want aborted, chapter skipped", j.Result, j.Chapters)
	}
	if _, teardowns := fake.counts(); teardowns != 1 {
		t.Errorf("teardowns = %d, want 1 (a failed setup may have started something)", teardowns)
	}
}

// A plugin error marked fatal halts an interactive run with the error on
// screen; the run stays up until the user quits. An ordinary error of the
// same call fails its chapter only.
func TestInteractiveRunStaysUpAfterAPluginError(t *testing.T) {
	for _, tt := range []struct {
		name  string
		err   error
		fatal bool
	}{
		{"fatal", &subject.CallError{Message: "the cluster is gone", Kind: subject.ErrFatal}, true},
		{"ordinary", &subject.CallError{Message: "no node to kill"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeSubject{injectErr: tt.err}
			r := runner.New(runner.Config{
				Plugin:         fake,
				Description:    fakeDesc,
				Chapters:       []subject.Chapter{boom("Break it"), {ID: "after", Title: "After"}},
				HealthInterval: 20 * time.Millisecond,
			})
			snaps, _ := r.Subscribe()
			wait := started(t, context.Background(), r)
			s := waitSnapshot(t, snaps, 5*time.Second, "the chapter failed", func(s runner.Snapshot) bool {
				return s.Current != nil && s.Current.Error != ""
			})
			if !strings.Contains(s.Current.Error, tt.err.Error()) || s.Phase != runner.PhaseRunning {
				t.Errorf("chapter error %q in phase %d, want the inject error while still running", s.Current.Error, s.Phase)
			}
			if tt.fatal != (s.PluginError != "") || (tt.fatal && !strings.Contains(s.PluginError, "the cluster is gone")) {
				t.Errorf("plugin error = %q; want it shown only for a fatal error", s.PluginError)
			}
			r.Next()
			waitSnapshot(t, snaps, 5*time.Second, "the next chapter", func(s runner.Snapshot) bool { return s.Index == 1 })
			r.Quit()
			j, err := wait()
			if tt.fatal != (err != nil) {
				t.Errorf("Run error = %v; want one only after a fatal error", err)
			}
			if j.Chapters[0].Status != journal.Failed || !strings.Contains(j.Chapters[0].Error, "inject boom") || !strings.Contains(j.Chapters[0].Error, tt.err.Error()) {
				t.Errorf("chapter = %+v, want failed with the inject error", j.Chapters[0])
			}
		})
	}
}

func TestSecondQuitStopsWaitingOnAHungRevert(t *testing.T) {
	fake := &fakeSubject{hangRevert: true}
	r := runner.New(runner.Config{
		Plugin:      fake,
		Description: fakeDesc,
		Chapters:    []subject.Chapter{boom("Break it"), {ID: "after", Title: "After"}},
		RPCTimeout:  time.Hour,
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
	if _, teardowns := fake.counts(); teardowns != 1 {
		t.Errorf("teardowns = %d, want 1", teardowns)
	}
}

func TestSubjectOutageShowsNodesUnknown(t *testing.T) {
	fake := &fakeSubject{health: func(n int) subject.Health {
		if n < 3 {
			return subject.Health{Nodes: []subject.Node{{ID: "redis", State: subject.Up}}}
		}
		return subject.Health{Error: "dial tcp 127.0.0.1:6379: connection refused"}
	}}
	r := runner.New(runner.Config{
		Plugin:         fake,
		Description:    fakeDesc,
		Chapters:       []subject.Chapter{{ID: "watch", Title: "Watch"}},
		HealthInterval: 10 * time.Millisecond,
	})
	snaps, _ := r.Subscribe()
	wait := started(t, context.Background(), r)
	s := waitSnapshot(t, snaps, 5*time.Second, "the outage", func(s runner.Snapshot) bool { return s.Health != nil && s.Health.Error != "" })
	if nodeState(s, "redis") != subject.Unknown || !strings.Contains(s.Health.Nodes[0].Detail, "connection refused") {
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
	if err := syscall.Kill(l.plugin.PID(), syscall.SIGKILL); err != nil {
		t.Fatalf("kill plugin: %v", err)
	}
	waitSnapshot(t, snaps, 10*time.Second, "the plugin error", func(s runner.Snapshot) bool { return s.PluginError != "" })

	fresh := launchExample(t, fastOptions)
	r.Restart(fresh.plugin.Subject)
	// The fault the dead process left is reverted through the fresh one at
	// once: the header's badge goes, as the fault does.
	s := waitSnapshot(t, snaps, 10*time.Second, "the restarted plugin's health", func(s runner.Snapshot) bool {
		return s.PluginError == "" && s.Health != nil && s.Health.Error == "" && nodeState(s, "node-1") == subject.Up
	})
	if len(s.Chaos) != 0 {
		t.Errorf("after the restart the fault is still shown active: %+v", s.Chaos)
	}
	r.Quit()
	j, err := wait()
	if err != nil {
		t.Fatalf("Run: %v (the plugin error should be cleared by the restart)", err)
	}
	if c := j.Chaos[0]; c.RevertedBy != "crash" || c.RevertedAt == nil || c.RevertError != "" {
		t.Errorf("chaos = %+v, want reverted (crash) through the restarted plugin", c)
	}
	if !hasEvent(j, journal.KindSetup, "plugin restarted") {
		t.Errorf("restart not in the events")
	}
}

func TestCountdownPublishesEverySecond(t *testing.T) {
	// With a silent health stream, only the countdown itself publishes.
	fake := &fakeSubject{silent: true}
	ch := boom("Break it")
	ch.Countdown = 2 * time.Second
	r := runner.New(runner.Config{Plugin: fake, Description: fakeDesc, Chapters: []subject.Chapter{ch}})
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

// panicky panics on its second injection, inside the runner's goroutine.
type panicky struct {
	*fakeSubject
	injections int
}

func (p *panicky) InjectChaos(ctx context.Context, f subject.Fault) (subject.Injected, error) {
	p.injections++
	if p.injections == 2 {
		panic("bug in the host")
	}
	return p.fakeSubject.InjectChaos(ctx, f)
}

// A panic in the runner's goroutine does not take the process down: the
// fault already active is reverted, the subject torn down, and Run returns
// a *PanicError with the journal.
func TestRunnerPanicRevertsAndReturnsAnError(t *testing.T) {
	fake := &fakeSubject{}
	second := boom("Break it again")
	second.ID = "again"
	r := runner.New(runner.Config{
		Plugin:      &panicky{fakeSubject: fake},
		Description: fakeDesc,
		Chapters:    []subject.Chapter{boom("Break it"), second},
		Headless:    true,
		Dwell:       10 * time.Millisecond,
	})
	j, err := r.Run(context.Background())
	var pe *runner.PanicError
	if !errors.As(err, &pe) || pe.Value != "bug in the host" || len(pe.Stack) == 0 {
		t.Fatalf("Run error = %v; want a *PanicError with the panic and its stack", err)
	}
	if !strings.Contains(err.Error(), "its chaos reverted") {
		t.Errorf("error %q does not say the chaos was reverted", err)
	}
	if j == nil || j.Result != runner.ResultAborted || len(j.Chaos) != 1 {
		t.Fatalf("journal = %+v; want an aborted run with the one fault", j)
	}
	if c := j.Chaos[0]; c.RevertedAt == nil || c.RevertedBy != "exit" {
		t.Errorf("chaos = %+v; want reverted on exit", c)
	}
	if _, teardowns := fake.counts(); teardowns != 1 {
		t.Errorf("teardowns = %d, want 1", teardowns)
	}
}

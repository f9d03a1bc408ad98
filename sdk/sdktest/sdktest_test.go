package sdktest_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/sdktest"
)

// recorder is a subject with one fault kind that records the calls it gets.
type recorder struct {
	mu    sync.Mutex
	calls []string
	opts  sdk.Options
}

func (r *recorder) record(call string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call)
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

func (r *recorder) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "recorder", Version: "1",
		Options: []sdk.Option{{Name: "wait", Type: sdk.Duration, Default: "1s"}},
		Faults:  []sdk.FaultKind{{Kind: "MARK", Params: []sdk.Option{{Name: "level", Type: sdk.Int, Default: "2"}}}}}, nil
}

func (r *recorder) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opts = req.Options
	r.calls = append(r.calls, "Configure wait="+req.Options.String("wait"))
	return nil
}

func (r *recorder) Chapters(context.Context) ([]sdk.Chapter, error) {
	r.mu.Lock()
	wait := r.opts.Duration("wait")
	r.mu.Unlock()
	return []sdk.Chapter{{Title: "mark", Countdown: wait,
		Fault:        &sdk.Fault{Kind: "MARK", Target: "x"},
		Expectations: []sdk.Expectation{sdk.Eventually(sdk.AllNodes(sdk.Up), wait)}}}, nil
}

func (r *recorder) Setup(context.Context, sdk.SetupRequest) error { r.record("Setup"); return nil }
func (r *recorder) Teardown(context.Context, sdk.TeardownRequest) error {
	r.record("Teardown")
	return nil
}

func (r *recorder) InjectChaos(_ context.Context, req sdk.InjectRequest) (sdk.Injected, error) {
	r.record("Inject " + req.Fault.Target + " level=" + req.Fault.Params.String("level"))
	return sdk.Injected{Handle: "h1", Target: req.Fault.Target, Detail: "marked"}, nil
}

func (r *recorder) RevertChaos(_ context.Context, req sdk.RevertRequest) (sdk.Reverted, error) {
	r.record("Revert " + req.Handle)
	return sdk.Reverted{Detail: "unmarked"}, nil
}

func (r *recorder) Health(context.Context) (sdk.HealthSnapshot, error) {
	return sdk.HealthSnapshot{Nodes: []sdk.Node{{ID: "x", State: sdk.Up}}}, nil
}

// A fault a test leaves injected is reverted, and the subject torn down,
// when that test ends; options reach Configure with defaults filled in;
// Faults proposes the chapter's target and the parameters' defaults.
func TestLeftoversAreRevertedWhenTheTestEnds(t *testing.T) {
	r := &recorder{}
	t.Run("inject and leave", func(t *testing.T) {
		h := sdktest.Start(t, r, sdktest.Set("wait", "2s"))
		fs := h.Faults()
		if len(fs) != 1 || fs[0].Target != "x" || fs[0].Params["level"] != "2" {
			t.Fatalf("faults %+v, want MARK on x with level=2", fs)
		}
		h.Inject(t, fs[0])
	})
	want := []string{"Configure wait=2s", "Setup", "Inject x level=2", "Revert h1", "Teardown"}
	if got := r.seen(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

// Scale shortens countdowns: at 0.01 a 10s countdown is 0.1s.
func TestScaleShortensTheRun(t *testing.T) {
	r := &recorder{}
	h := sdktest.Start(t, r, sdktest.Set("wait", "10s"), sdktest.Scale(0.01))
	j, err := h.Run(t.Context())
	if err != nil || j.Result != journal.Passed {
		t.Fatalf("run: %v, result %s\n%s", err, j.Result, sdktest.Summary(j))
	}
	if len(j.Chaos) != 1 || j.Chapters[0].StartedAt == nil {
		t.Fatalf("chaos %+v", j.Chaos)
	}
	if countdown := j.Chaos[0].InjectedAt.Sub(*j.Chapters[0].StartedAt); countdown >= 10*time.Second {
		t.Errorf("the fault came %s after the chapter began: the 10s countdown was not scaled", countdown)
	}
	if got := strings.Join(r.seen(), "|"); got != "Configure wait=10s|Setup|Inject x level=2|Revert h1|Teardown" {
		t.Errorf("calls %s", got)
	}
}

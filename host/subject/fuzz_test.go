package subject_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/host/subject"
	"github.com/demohost/demohost/internal/wire"
	"github.com/demohost/demohost/sdk/option"
)

// chaptersOnly answers Chapters with a fixed reply, as a plugin would over
// the wire; nothing else is called.
type chaptersOnly struct {
	wire.SubjectClient
	reply *wire.ChaptersResponse
}

func (c chaptersOnly) Chapters(context.Context, *wire.ChaptersRequest, ...grpc.CallOption) (*wire.ChaptersResponse, error) {
	return c.reply, nil
}

// fuzzSubject declares a kind of its own with a parameter, and a
// well-known one with an enum parameter.
var fuzzSubject = subject.Description{
	Name: "fuzz",
	Faults: []subject.FaultKind{
		{Kind: "NODE_KILL", Params: []option.Spec{{Name: "count", Type: option.Int, Default: "1"}}},
		{Kind: "BURST_TRAFFIC", Params: []option.Spec{{Name: "shape", Type: option.Enum, Default: "flat", Choices: []string{"flat", "spike"}}}},
	},
}

// chapter is the fuzzed chapter's fields, as a plugin puts them on the
// wire: one fault with one parameter, one expectation.
type chapter struct {
	id, title                      string
	hasAction, autoAdvance, revert bool
	countdown                      int64 // ms
	kind, param, value             string
	faultDuration                  int64 // ms; with kind ""
	mode, check                    int32
	within                         int64 // ms
	whileFault                     bool
	invariant, target              string
}

func (c chapter) wire() *wire.Chapter {
	w := &wire.Chapter{Id: c.id, Title: c.title, HasAction: c.hasAction, AutoAdvance: c.autoAdvance, RevertChaos: c.revert,
		Countdown: durationpb.New(time.Duration(c.countdown) * time.Millisecond)}
	if c.kind != "" {
		w.Fault = &wire.Fault{Kind: c.kind, Name: "fault", Duration: durationpb.New(time.Duration(c.faultDuration) * time.Millisecond)}
		if c.param != "" {
			w.Fault.Params = map[string]string{c.param: c.value}
		}
	}
	if c.within != 0 || c.check != 0 {
		w.Expectations = []*wire.Expectation{{Mode: wire.ExpectationMode(c.mode), Check: wire.CheckKind(c.check), Within: durationpb.New(time.Duration(c.within) * time.Millisecond),
			WhileFault: c.whileFault, Invariant: c.invariant, Target: c.target, State: wire.NodeState_UP}}
	}
	return w
}

// seeds are chapters that pass, one of each shape: every mode, a fault
// with a parameter, a revert chapter.
var seeds = []chapter{
	{id: "warm-up", title: "Warm-up", hasAction: true, autoAdvance: true, mode: 1, check: 5, within: 1000, target: "requests"},
	{id: "kill", title: "Kill a node", countdown: 1000, kind: "NODE_KILL", param: "count", value: "2", faultDuration: 5000, mode: 2, check: 3, within: 1000},
	{id: "hold", title: "Writes go on", kind: "NODE_KILL", faultDuration: 5000, mode: 1, check: 2, whileFault: true, invariant: "split_brain"},
	{id: "burst", title: "Burst", kind: "BURST_TRAFFIC", param: "shape", value: "spike", check: 1, within: 1000, invariant: "over_limit"},
	{id: "recovery", title: "Recovery", revert: true, mode: 3, check: 4, within: 1000, target: "node-1"},
}

// FuzzCheckChapters feeds chapter lists a plugin could send through the
// host's conversion at the edge and its check: nothing panics, and a list
// the check accepts holds up to what the runner relies on. The list is a
// fixed first chapter and a fuzzed second one.
func FuzzCheckChapters(f *testing.F) {
	for _, c := range seeds {
		f.Add(c.id, c.title, c.hasAction, c.autoAdvance, c.revert, c.countdown, c.kind, c.param, c.value, c.faultDuration,
			c.mode, c.check, c.within, c.whileFault, c.invariant, c.target)
	}
	f.Fuzz(func(t *testing.T, id, title string, hasAction, autoAdvance, revert bool, countdown int64, kind, param, value string, faultDuration int64,
		mode, check int32, within int64, whileFault bool, invariant, target string) {
		c := chapter{id, title, hasAction, autoAdvance, revert, countdown, kind, param, value, faultDuration, mode, check, within, whileFault, invariant, target}
		first := &wire.Chapter{Id: "healthy", Title: "A healthy cluster"}
		reply := &wire.ChaptersResponse{Chapters: []*wire.Chapter{first, c.wire()}}
		chapters, err := pluginhost.NewClient(chaptersOnly{reply: reply}).Chapters(context.Background())
		if err != nil {
			t.Fatalf("converting a chapter list failed: %v", err)
		}
		if subject.CheckChapters(fuzzSubject, chapters) != nil {
			return
		}
		assertRunnable(t, chapters)
	})
}

// assertRunnable fails unless chapters are what the runner may rely on.
func assertRunnable(t *testing.T, chapters []subject.Chapter) {
	t.Helper()
	if len(chapters) == 0 {
		t.Fatal("accepted an empty chapter list")
	}
	ids := map[string]bool{}
	for _, c := range chapters {
		switch {
		case strings.TrimSpace(c.Title) == "" || c.ID == "" || ids[c.ID]:
			t.Fatalf("accepted a chapter without a title or a unique id: %+v", c)
		case c.AutoAdvance && !c.HasAction:
			t.Fatalf("accepted auto_advance without an action: %+v", c)
		case c.Countdown < 0:
			t.Fatalf("accepted a negative countdown: %+v", c)
		}
		ids[c.ID] = true
		if c.Fault != nil {
			kind, ok := fuzzSubject.FaultKind(c.Fault.Kind)
			if !ok || c.Fault.Duration < 0 {
				t.Fatalf("accepted an undeclared kind or a negative duration: %+v", c.Fault)
			}
			resolved, err := subject.ResolveFault(fuzzSubject, *c.Fault)
			if err != nil {
				t.Fatalf("accepted a fault whose parameters do not resolve: %v", err)
			}
			for _, p := range kind.Params {
				if _, ok := resolved.Params[p.Name]; !ok {
					t.Fatalf("resolved fault lacks declared parameter %s: %+v", p.Name, resolved)
				}
			}
		}
		for _, e := range c.Expectations {
			assertRunnableExpectation(t, c, e)
		}
	}
}

func assertRunnableExpectation(t *testing.T, c subject.Chapter, e subject.Expectation) {
	t.Helper()
	faultLasts := c.Fault != nil && c.Fault.Duration > 0
	switch {
	case e.Mode < subject.Eventually || e.Mode > subject.After:
		t.Fatalf("accepted an unknown mode: %+v", e)
	case e.Check.Kind < subject.CheckViolationPresent || e.Check.Kind > subject.CheckMetricBelow:
		t.Fatalf("accepted an unknown check: %+v", e)
	case e.WhileFault && (e.Mode != subject.Holds || !faultLasts):
		t.Fatalf("accepted while_fault outside a holds over a fault with a duration: %+v in %+v", e, c)
	case !e.WhileFault && e.Within <= 0:
		t.Fatalf("accepted an expectation without a deadline or window: %+v", e)
	case e.Mode == subject.Before && c.Fault == nil:
		t.Fatalf("accepted a before expectation in a chapter without a fault: %+v", c)
	case e.Mode == subject.After && !c.RevertChaos && !faultLasts:
		t.Fatalf("accepted an after expectation with no revert to come after: %+v", c)
	}
}

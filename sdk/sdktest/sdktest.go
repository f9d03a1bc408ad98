// Package sdktest tests a demohost subject in-process, the way demohost
// drives it, with no plugin binary and no host to run: Start serves the
// Subject through the sdk's own gRPC server and connects the host's own
// client, so every call crosses the real wire, the sdk's conversions and
// call order, and the host's checks of the description, the options and
// the chapters. Run then walks the chapters headless with the host's real
// runner, countdowns and waits scaled down, and returns the journal
// (`demohost --report`'s JSON) to check. Faults, Inject, Revert and
// AwaitHealth test each declared fault kind on its own.
//
//	func TestDemoPasses(t *testing.T) {
//		h := sdktest.Start(t, mysubject.New(), sdktest.Scale(0.2))
//		j, err := h.Run(t.Context())
//		if err != nil || j.Result != journal.Passed {
//			t.Fatalf("run: %v\n%s", err, sdktest.Summary(j))
//		}
//	}
//
// It lives in a module of its own, which requires the demohost host module
// (for the runner): a plugin module that imports it only from its tests
// keeps the host out of its binary.
package sdktest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/demohost/demohost/host/headless"
	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/session"
	"github.com/demohost/demohost/host/subject"
	"github.com/demohost/demohost/sdk"
)

// Option tunes Start.
type Option func(*config)

type config struct {
	set   map[string]string
	scale float64
}

// Set passes an option as `--set key=value` does; the host checks it
// against the subject's schema.
func Set(key, value string) Option { return func(c *config) { c.set[key] = value } }

// Scale multiplies every chapter's countdown, fault duration and
// expectation window (within), and the headless dwell on chapters without
// expectations, by f: 0.1 runs a demo ten times faster, if the subject
// itself detects and recovers fast enough. The default is 1.
func Scale(f float64) Option { return func(c *config) { c.scale = f } }

// Harness is a subject served in-process, described, configured and with
// its chapters checked, as `demohost` would start it.
type Harness struct {
	impl     sdk.Subject
	client   *pluginhost.Client
	prepared session.Prepared
	scale    float64

	mu     sync.Mutex
	setUp  bool
	active []Injected
}

// Injected is a fault the harness injected.
type Injected struct {
	Kind   string
	Target string // the target the subject reports it hit
	Handle string
	Detail string // the subject's line saying what it did
	fault  subject.Fault
}

// callTimeout bounds each call the harness makes outside Run.
const callTimeout = 30 * time.Second

// Start serves s and prepares it as the host does: Describe, the options
// checked against the schema with defaults filled in, Configure, the
// chapters checked against the contract and the declared fault kinds. Any
// error fails the test. When the test ends, faults still injected are
// reverted and a subject set up by Setup or Inject is torn down.
func Start(t testing.TB, s sdk.Subject, opts ...Option) *Harness {
	t.Helper()
	cfg := config{set: map[string]string{}, scale: 1}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.scale <= 0 {
		t.Fatalf("sdktest.Scale(%v): want a factor above 0, e.g. 0.1", cfg.scale)
	}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	sdk.RegisterSubject(srv, s)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///sdktest",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		t.Fatalf("sdktest: connect to the in-process server: %v", err)
	}
	h := &Harness{impl: s, client: pluginhost.NewClientConn(conn), scale: cfg.scale}
	t.Cleanup(func() {
		h.cleanup(t)
		conn.Close()
		srv.Stop()
	})
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	h.prepared, err = session.Prepare(ctx, h.client, cfg.set, "the subject", func(call string, err error) error {
		return fmt.Errorf("%s failed: %w", call, err)
	})
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	return h
}

// Run walks every chapter headless with the host's runner: Setup, each
// chapter (countdown, fault, action, expectations; a chapter without
// expectations is left after the dwell), every fault reverted, Teardown.
// The journal says how each chapter went (Chapters[i].Status, the
// expectations and why they were not met, an action's error) and what each
// fault did (Chaos, with the subject's revert lines); Summary explains a
// failure. The error is a plugin error that ended the run (a failed Setup,
// a fatal error), or ctx ending. Call Run once per Harness, without Setup
// or Inject before it.
func (h *Harness) Run(ctx context.Context) (*journal.Journal, error) {
	chapters := make([]subject.Chapter, len(h.prepared.Chapters))
	for i, c := range h.prepared.Chapters {
		chapters[i] = h.scaled(c)
	}
	r := runner.New(runner.Config{
		Plugin: h.client, Description: h.prepared.Description, Options: h.prepared.Options, Chapters: chapters,
		Headless: true, HealthInterval: 50 * time.Millisecond, Dwell: h.scaleDuration(runner.DefaultDwell),
	})
	return r.Run(ctx)
}

// scaled is c with its countdown, fault duration and expectation windows
// scaled.
func (h *Harness) scaled(c subject.Chapter) subject.Chapter {
	c.Countdown = h.scaleDuration(c.Countdown)
	if c.Fault != nil {
		f := *c.Fault
		f.Duration = h.scaleDuration(f.Duration)
		c.Fault = &f
	}
	c.Expectations = slices.Clone(c.Expectations)
	for i := range c.Expectations {
		c.Expectations[i].Within = h.scaleDuration(c.Expectations[i].Within)
	}
	return c
}

func (h *Harness) scaleDuration(d time.Duration) time.Duration {
	return time.Duration(float64(d) * h.scale)
}

// Summary says why the chapters of a run failed and how the run ended, as
// `demohost --headless` does: one line per unmet expectation or error, then
// the result.
func Summary(j *journal.Journal) string {
	var b bytes.Buffer
	headless.Summary(&b, j)
	return b.String()
}

// Faults returns one fault of each kind the subject declares, as `demohost
// conform` injects them: the parameters' defaults, and the target of the
// first chapter that injects that kind (empty when none does: the subject
// picks).
func (h *Harness) Faults() []sdk.Fault {
	var out []sdk.Fault
	for _, k := range h.prepared.Description.Faults {
		f := sdk.Fault{Kind: k.Kind, Name: "sdktest " + k.Kind, Params: sdk.Options{}}
		for _, c := range h.prepared.Chapters {
			if c.Fault != nil && c.Fault.Kind == k.Kind {
				f.Target = c.Fault.Target
				break
			}
		}
		for _, p := range k.Params {
			f.Params[p.Name] = p.Default
		}
		out = append(out, f)
	}
	return out
}

// Setup sets the subject up through the wire (progress lines go to the
// test log). Inject calls it when nothing did.
func (h *Harness) Setup(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runner.DefaultSetupTimeout)
	defer cancel()
	h.mu.Lock()
	h.setUp = true
	h.mu.Unlock()
	if err := h.client.Setup(ctx, func(l subject.Line) { t.Logf("setup: %s", l.Message) }); err != nil {
		t.Fatalf("sdktest: Setup failed: %v", err)
	}
}

// Inject injects f through the wire, after the host's check of its kind
// and parameters (defaults filled in), setting the subject up first if
// nothing did. An error fails the test.
func (h *Harness) Inject(t testing.TB, f sdk.Fault) Injected {
	t.Helper()
	h.mu.Lock()
	setUp := h.setUp
	h.mu.Unlock()
	if !setUp {
		h.Setup(t)
	}
	sf, err := subject.ResolveFault(h.prepared.Description, subject.Fault{
		Kind: f.Kind, Name: f.Name, Target: f.Target, Description: f.Description, Duration: f.Duration, Params: f.Params,
	})
	if err != nil {
		t.Fatalf("sdktest: fault %s: %v", f.Kind, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	r, err := h.client.InjectChaos(ctx, sf)
	if err != nil {
		t.Fatalf("sdktest: InjectChaos(%s) failed: %v", f.Kind, err)
	}
	inj := Injected{Kind: f.Kind, Target: r.Target, Handle: r.Handle, Detail: r.Detail, fault: sf}
	h.mu.Lock()
	h.active = append(h.active, inj)
	h.mu.Unlock()
	return inj
}

// Revert reverts inj through the wire and returns the subject's line
// saying what it did. An error fails the test.
func (h *Harness) Revert(t testing.TB, inj Injected) string {
	t.Helper()
	detail, err := h.revert(inj)
	if err != nil {
		t.Fatalf("sdktest: RevertChaos(%s, handle %q) failed: %v", inj.Kind, inj.Handle, err)
	}
	return detail
}

func (h *Harness) revert(inj Injected) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	detail, err := h.client.RevertChaos(ctx, subject.Revert{Handle: inj.Handle, Fault: inj.fault, Target: inj.Target})
	if err == nil {
		h.mu.Lock()
		h.active = slices.DeleteFunc(h.active, func(a Injected) bool { return a.Handle == inj.Handle })
		h.mu.Unlock()
	}
	return detail, err
}

// AwaitHealth polls the subject's Health until ok holds, failing the test
// with what it waited for and the last snapshot once within has passed. A
// failing Health is a snapshot with Error set, as the host sees it.
func (h *Harness) AwaitHealth(t testing.TB, what string, within time.Duration, ok func(sdk.HealthSnapshot) bool) sdk.HealthSnapshot {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		snap, err := h.impl.Health(ctx)
		cancel()
		if err != nil {
			snap = sdk.HealthSnapshot{Error: err.Error()}
		}
		if ok(snap) {
			return snap
		}
		if time.Now().After(deadline) {
			t.Fatalf("sdktest: timed out after %s waiting for %s; last health: %+v", within, what, snap)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cleanup reverts what is still injected, newest first, and tears down
// what Setup brought up.
func (h *Harness) cleanup(t testing.TB) {
	h.mu.Lock()
	active, setUp := slices.Clone(h.active), h.setUp
	h.mu.Unlock()
	for i := len(active) - 1; i >= 0; i-- {
		if _, err := h.revert(active[i]); err != nil {
			t.Errorf("sdktest: reverting %s (handle %q) when the test ended failed: %v", active[i].Kind, active[i].Handle, err)
		}
	}
	if setUp {
		ctx, cancel := context.WithTimeout(context.Background(), runner.DefaultSetupTimeout)
		defer cancel()
		if err := h.client.Teardown(ctx, func(l subject.Line) { t.Logf("teardown: %s", l.Message) }); err != nil {
			t.Errorf("sdktest: Teardown when the test ended failed: %v", err)
		}
	}
}

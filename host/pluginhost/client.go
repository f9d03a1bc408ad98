package pluginhost

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/demohost/demohost/host/subject"
	"github.com/demohost/demohost/internal/wire"
	"github.com/demohost/demohost/sdk/option"
)

// Client is a plugin's Subject service as the host uses it. It converts
// between the wire and host/subject at the edge, and turns gRPC errors into
// *subject.CallError carrying the plugin's own message.
type Client struct {
	rpc wire.SubjectClient
}

var _ subject.Plugin = (*Client)(nil)

// NewClient wraps a connection's generated client.
func NewClient(rpc wire.SubjectClient) *Client { return &Client{rpc: rpc} }

// Describe asks what the subject is.
func (c *Client) Describe(ctx context.Context) (subject.Description, error) {
	r, err := c.rpc.Describe(ctx, &wire.DescribeRequest{})
	if err != nil {
		return subject.Description{}, callError(err)
	}
	d := subject.Description{Name: text(r.GetName()), Version: text(r.GetVersion()), Description: text(r.GetDescription()), Options: specs(r.GetOptions())}
	for _, k := range r.GetFaults() {
		d.Faults = append(d.Faults, subject.FaultKind{Kind: k.GetKind(), Description: text(k.GetDescription()), Target: text(k.GetTarget()), Params: specs(k.GetParams())})
	}
	return d, nil
}

func specs(in []*wire.OptionSpec) []option.Spec {
	out := make([]option.Spec, len(in))
	for i, o := range in {
		out[i] = option.Spec{Name: o.GetName(), Type: option.Type(o.GetType()), Default: o.GetDefault(), Help: text(o.GetHelp()), Choices: o.GetChoices()}
	}
	return out
}

// Configure passes the options (already checked and filled in by the host).
func (c *Client) Configure(ctx context.Context, opts map[string]string) error {
	_, err := c.rpc.Configure(ctx, &wire.ConfigureRequest{Options: opts})
	return callError(err)
}

// Chapters returns the chapter list.
func (c *Client) Chapters(ctx context.Context) ([]subject.Chapter, error) {
	r, err := c.rpc.Chapters(ctx, &wire.ChaptersRequest{})
	if err != nil {
		return nil, callError(err)
	}
	out := make([]subject.Chapter, 0, len(r.GetChapters()))
	for _, w := range r.GetChapters() {
		ch := subject.Chapter{
			ID: w.GetId(), Title: w.GetTitle(), Narration: w.GetNarration(), KeyHint: w.GetKeyHint(),
			AutoAdvance: w.GetAutoAdvance(), BlocksAdvance: w.GetBlocksAdvance(), HasAction: w.GetHasAction(),
			Countdown: w.GetCountdown().AsDuration(), RevertChaos: w.GetRevertChaos(), Skip: w.GetSkip(),
		}
		if f := w.GetFault(); f != nil {
			ff := faultFromWire(f)
			ch.Fault = &ff
		}
		for _, e := range w.GetExpectations() {
			ch.Expectations = append(ch.Expectations, subject.Expectation{
				Mode: subject.Mode(e.GetMode()),
				Check: subject.Check{Kind: subject.CheckKind(e.GetCheck()), Invariant: e.GetInvariant(), Target: e.GetTarget(),
					State: subject.NodeState(e.GetState()), Threshold: e.GetThreshold()},
				Within: e.GetWithin().AsDuration(), WhileFault: e.GetWhileFault(), Description: e.GetDescription(),
			})
		}
		out = append(out, subject.LimitChapter(ch))
	}
	return out, nil
}

func faultFromWire(f *wire.Fault) subject.Fault {
	return subject.Fault{Kind: f.GetKind(), Name: f.GetName(), Target: f.GetTarget(), Description: f.GetDescription(),
		Duration: f.GetDuration().AsDuration(), Params: f.GetParams()}
}

func faultToWire(f subject.Fault) *wire.Fault {
	w := &wire.Fault{Kind: f.Kind, Name: f.Name, Target: f.Target, Description: f.Description, Params: f.Params}
	if f.Duration != 0 {
		w.Duration = durationpb.New(f.Duration)
	}
	return w
}

// Setup brings up the subject's cluster.
func (c *Client) Setup(ctx context.Context, progress func(subject.Line)) error {
	stream, err := c.rpc.Setup(ctx, &wire.SetupRequest{})
	if err != nil {
		return callError(err)
	}
	return drain(stream.Recv, lines(progress))
}

// Teardown takes the subject's cluster down.
func (c *Client) Teardown(ctx context.Context, progress func(subject.Line)) error {
	stream, err := c.rpc.Teardown(ctx, &wire.TeardownRequest{})
	if err != nil {
		return callError(err)
	}
	return drain(stream.Recv, lines(progress))
}

// EnterChapter runs the on-enter action of chapter id until it ends.
func (c *Client) EnterChapter(ctx context.Context, id string, status func(subject.Line)) error {
	stream, err := c.rpc.EnterChapter(ctx, &wire.EnterChapterRequest{ChapterId: id})
	if err != nil {
		return callError(err)
	}
	return drain(stream.Recv, lines(status))
}

func lines(each func(subject.Line)) func(*wire.Progress) {
	return func(p *wire.Progress) {
		if each != nil {
			each(subject.Line{Severity: subject.Severity(p.GetSeverity()), Message: text(p.GetMessage())})
		}
	}
}

// InjectChaos starts a fault.
func (c *Client) InjectChaos(ctx context.Context, f subject.Fault) (subject.Injected, error) {
	r, err := c.rpc.InjectChaos(ctx, &wire.InjectChaosRequest{Fault: faultToWire(f)})
	if err != nil {
		return subject.Injected{}, callError(err)
	}
	return subject.Injected{Handle: r.GetHandle(), Target: r.GetTarget(), Detail: text(r.GetDetail())}, nil
}

// RevertChaos undoes a fault and returns the plugin's line saying how.
func (c *Client) RevertChaos(ctx context.Context, rv subject.Revert) (string, error) {
	r, err := c.rpc.RevertChaos(ctx, &wire.RevertChaosRequest{Handle: rv.Handle, Fault: faultToWire(rv.Fault), Target: rv.Target})
	if err != nil {
		return "", callError(err)
	}
	return text(r.GetDetail()), nil
}

// Health takes one snapshot.
func (c *Client) Health(ctx context.Context) (subject.Health, error) {
	h, err := c.rpc.GetHealth(ctx, &wire.GetHealthRequest{})
	if err != nil {
		return subject.Health{}, callError(err)
	}
	return healthFromWire(h), nil
}

// WatchHealth delivers snapshots until ctx ends (returns nil) or the stream
// breaks (returns the error).
func (c *Client) WatchHealth(ctx context.Context, interval time.Duration, each func(subject.Health)) error {
	stream, err := c.rpc.WatchHealth(ctx, &wire.WatchHealthRequest{Interval: durationpb.New(interval)})
	if err != nil {
		return callError(err)
	}
	err = drain(stream.Recv, func(h *wire.HealthSnapshot) { each(healthFromWire(h)) })
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func healthFromWire(w *wire.HealthSnapshot) subject.Health {
	h := subject.Health{Error: w.GetError()}
	if t := w.GetTakenAt(); t != nil {
		h.TakenAt = t.AsTime()
	}
	for _, n := range w.GetNodes() {
		h.Nodes = append(h.Nodes, subject.Node{ID: n.GetId(), Name: n.GetName(), Role: n.GetRole(), State: subject.NodeState(n.GetState()), Address: n.GetAddress(), Detail: n.GetDetail()})
	}
	for _, m := range w.GetMetrics() {
		h.Metrics = append(h.Metrics, subject.Metric{Name: m.GetName(), Value: m.GetValue(), Unit: m.GetUnit(), Kind: subject.MetricKind(m.GetKind())})
	}
	for _, c := range w.GetCounters() {
		h.Counters = append(h.Counters, subject.Counter{Key: c.GetKey(), Count: c.GetCount(), Limit: c.GetLimit()})
	}
	for _, v := range w.GetViolations() {
		sv := subject.Violation{Invariant: v.GetInvariant(), Severity: subject.Severity(v.GetSeverity()), Target: v.GetTarget(), Message: v.GetMessage()}
		if t := v.GetSince(); t != nil {
			sv.Since = t.AsTime()
		}
		h.Violations = append(h.Violations, sv)
	}
	return subject.LimitHealth(h)
}

// text is a line of the plugin's for people, cut to what the host keeps
// (subject.MaxText).
func text(s string) string { return subject.Cut(s, subject.MaxText) }

func drain[T any](recv func() (T, error), each func(T)) error {
	for {
		m, err := recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return callError(err)
		}
		each(m)
	}
}

// callError turns a gRPC error into a *subject.CallError with the plugin's
// own message and its kind.
func callError(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &subject.CallError{Message: subject.CutMiddle(st.Message(), subject.MaxText)}
	switch st.Code() {
	case codes.Aborted:
		e.Kind = subject.ErrFatal
	case codes.Unavailable:
		// gRPC's own words about its transport ("connection error: desc =
		// \"transport: ...\""), not the plugin's: say what they mean.
		e.Kind = subject.ErrUnreachable
		e.Message = "the plugin stopped answering: its connection is gone (it may have exited)"
	case codes.DeadlineExceeded:
		e.Kind = subject.ErrTimedOut
	case codes.InvalidArgument, codes.FailedPrecondition, codes.NotFound:
		e.Kind = subject.ErrRefused
	case codes.Canceled:
		e.Kind = context.Canceled
	}
	return e
}

// NewClientConn is a Client over any gRPC connection to a Subject service,
// e.g. one served in-process by a test harness (sdk/sdktest).
func NewClientConn(cc grpc.ClientConnInterface) *Client {
	return NewClient(wire.NewSubjectClient(cc))
}

// Wire is the plugin's generated client, for checks that must see the
// plugin's own answers and status codes before any conversion (host/conform).
func (c *Client) Wire() wire.SubjectClient { return c.rpc }

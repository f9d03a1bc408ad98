package sdk

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/demohost/demohost/sdk/internal/wire"
	"github.com/demohost/demohost/sdk/option"
)

// minHealthInterval bounds how often a snapshot is sent, whether the host
// asked for a shorter interval or the subject reports changes faster.
const minHealthInterval = 10 * time.Millisecond

// server serves a Subject as the wire's Subject service: it converts at the
// edge, keeps the call order, finds chapter actions by chapter id and pushes
// a health snapshot whenever the subject reports a change.
type server struct {
	wire.UnimplementedSubjectServer
	impl Subject

	mu         sync.Mutex
	configured bool
	desc       Description                                      // from the Describe made by Configure
	actions    map[string]func(context.Context, Progress) error // chapter id -> action
	changed    notifier
}

func newServer(impl Subject) *server { return &server{impl: impl} }

// errNotConfigured refuses a call made before Configure.
func errNotConfigured(call string) error {
	return status.Errorf(codes.FailedPrecondition, "%s before Configure: the host must call Configure first (docs/PROTOCOL.md, call order)", call)
}

// ready checks the call order and returns the description Configure saw.
func (s *server) ready(call string) (Description, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.configured {
		return Description{}, errNotConfigured(call)
	}
	return s.desc, nil
}

func (s *server) Describe(ctx context.Context, _ *wire.DescribeRequest) (*wire.DescribeResponse, error) {
	d, err := s.impl.Describe(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return descriptionToWire(d), nil
}

func (s *server) Configure(ctx context.Context, req *wire.ConfigureRequest) (*wire.ConfigureResponse, error) {
	d, err := s.impl.Describe(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	opts, err := option.Resolve(specs(d.Options), req.GetOptions(), "option", "see `demohost describe`")
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := s.impl.Configure(ctx, ConfigureRequest{Options: opts}); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.mu.Lock()
	s.configured, s.desc = true, d
	s.mu.Unlock()
	return &wire.ConfigureResponse{}, nil
}

func (s *server) Chapters(ctx context.Context, _ *wire.ChaptersRequest) (*wire.ChaptersResponse, error) {
	if _, err := s.ready("Chapters"); err != nil {
		return nil, err
	}
	cs, actions, err := s.chapters(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.actions = actions
	s.mu.Unlock()
	out := &wire.ChaptersResponse{}
	for _, c := range cs {
		out.Chapters = append(out.Chapters, chapterToWire(c))
	}
	return out, nil
}

// chapters asks the subject for its chapters, names those without an id by
// their position and collects their actions by id.
func (s *server) chapters(ctx context.Context) ([]Chapter, map[string]func(context.Context, Progress) error, error) {
	cs, err := s.impl.Chapters(ctx)
	if err != nil {
		return nil, nil, toStatus(err)
	}
	actions := map[string]func(context.Context, Progress) error{}
	seen := map[string]bool{}
	for i := range cs {
		if cs[i].ID == "" {
			cs[i].ID = strconv.Itoa(i + 1)
		}
		if seen[cs[i].ID] {
			return nil, nil, status.Errorf(codes.Internal, "chapter %q has the id %q of an earlier chapter: give each chapter its own ID, or leave ID empty", cs[i].Title, cs[i].ID)
		}
		seen[cs[i].ID] = true
		if cs[i].Action != nil {
			actions[cs[i].ID] = cs[i].Action
		}
	}
	return cs, actions, nil
}

func (s *server) Setup(_ *wire.SetupRequest, stream wire.Subject_SetupServer) error {
	if _, err := s.ready("Setup"); err != nil {
		return err
	}
	return toStatus(s.impl.Setup(stream.Context(), SetupRequest{Progress: progressTo(stream), HealthChanged: s.changed.notify}))
}

func (s *server) Teardown(_ *wire.TeardownRequest, stream wire.Subject_TeardownServer) error {
	if _, err := s.ready("Teardown"); err != nil {
		return err
	}
	return toStatus(s.impl.Teardown(stream.Context(), TeardownRequest{Progress: progressTo(stream)}))
}

// progressTo sends progress lines on a stream (ignoring a stream the host
// has already left).
func progressTo(stream interface{ Send(*wire.Progress) error }) Progress {
	var mu sync.Mutex // actions may report from several goroutines
	return NewProgress(func(sev Severity, msg string) {
		mu.Lock()
		defer mu.Unlock()
		_ = stream.Send(progressToWire(sev, msg))
	})
}

func (s *server) EnterChapter(req *wire.EnterChapterRequest, stream wire.Subject_EnterChapterServer) error {
	if _, err := s.ready("EnterChapter"); err != nil {
		return err
	}
	ctx := stream.Context()
	s.mu.Lock()
	actions := s.actions
	s.mu.Unlock()
	if actions == nil { // a fresh process: the host asked for the chapters elsewhere
		_, a, err := s.chapters(ctx)
		if err != nil {
			return err
		}
		actions = a
	}
	action, ok := actions[req.GetChapterId()]
	if !ok {
		return status.Errorf(codes.NotFound, "no chapter with id %q has an action", req.GetChapterId())
	}
	return toStatus(action(ctx, progressTo(stream)))
}

func (s *server) InjectChaos(ctx context.Context, req *wire.InjectChaosRequest) (*wire.InjectChaosResponse, error) {
	d, err := s.ready("InjectChaos")
	if err != nil {
		return nil, err
	}
	if req.GetFault() == nil {
		return nil, status.Error(codes.InvalidArgument, "InjectChaos: no fault")
	}
	f := faultFromWire(req.GetFault())
	kind, err := faultKind(d, f.Kind)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	params, err := option.Resolve(specs(kind.Params), f.Params, "parameter", "of fault "+f.Kind)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	f.Params = params
	inj, err := s.impl.InjectChaos(ctx, InjectRequest{Fault: f})
	if err != nil {
		return nil, toStatus(err)
	}
	if inj.Handle == "" {
		return nil, status.Errorf(codes.Internal, "InjectChaos of %s returned no handle: the fault cannot be reverted; return one that names what was hit", f.Kind)
	}
	return &wire.InjectChaosResponse{Handle: inj.Handle, Target: inj.Target, Detail: inj.Detail}, nil
}

func (s *server) RevertChaos(ctx context.Context, req *wire.RevertChaosRequest) (*wire.RevertChaosResponse, error) {
	if _, err := s.ready("RevertChaos"); err != nil {
		return nil, err
	}
	f := faultFromWire(req.GetFault())
	rev, err := s.impl.RevertChaos(ctx, RevertRequest{Handle: req.GetHandle(), Fault: f, Target: req.GetTarget()})
	if err != nil {
		return nil, toStatus(err)
	}
	if rev.Detail == "" {
		rev.Detail = "reverted " + strings.TrimSpace(f.Kind+" on "+req.GetTarget())
	}
	return &wire.RevertChaosResponse{Detail: rev.Detail}, nil
}

func (s *server) GetHealth(ctx context.Context, _ *wire.GetHealthRequest) (*wire.HealthSnapshot, error) {
	if _, err := s.ready("GetHealth"); err != nil {
		return nil, err
	}
	return s.health(ctx), nil
}

// WatchHealth sends a snapshot at once, then whenever the subject reports a
// change and at least every interval. A failing Health call becomes a
// snapshot with Error set, so the stream survives subject outages.
func (s *server) WatchHealth(req *wire.WatchHealthRequest, stream wire.Subject_WatchHealthServer) error {
	if _, err := s.ready("WatchHealth"); err != nil {
		return err
	}
	interval := max(req.GetInterval().AsDuration(), minHealthInterval)
	ctx := stream.Context()
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		changed := s.changed.wait()
		sent := time.Now()
		if err := stream.Send(s.health(ctx)); err != nil {
			return err
		}
		t.Reset(interval)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-changed:
			// Coalesce bursts of changes: at most one snapshot per minHealthInterval.
			if wait := minHealthInterval - time.Since(sent); wait > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(wait):
				}
			}
		}
	}
}

func (s *server) health(ctx context.Context) *wire.HealthSnapshot {
	h, err := s.impl.Health(ctx)
	if err != nil {
		h = HealthSnapshot{Error: err.Error()}
	}
	return healthToWire(h)
}

// toStatus turns a subject's error into a gRPC status whose message is the
// error's text: ABORTED for errors marked Fatal, the context's own codes
// for cancellation and deadlines, UNKNOWN otherwise.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	msg := oneLine(err.Error())
	switch {
	case IsFatal(err):
		return status.Error(codes.Aborted, msg)
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, msg)
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, msg)
	}
	return status.Error(codes.Unknown, msg)
}

// oneLine joins a multi-line message into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// notifier wakes every waiter once per notify.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed by the next notify.
func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

// notify wakes the current waiters; it never blocks.
func (n *notifier) notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

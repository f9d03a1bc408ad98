package sdk

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/demohost/demohost/sdk/internal/wire"
	"github.com/demohost/demohost/sdk/internal/wiretest"
)

// fake is a Subject whose answers the test sets.
type fake struct {
	mu       sync.Mutex
	injected []InjectRequest
	changed  func()
	healthy  bool
	action   func(context.Context, Progress) error
	revert   Reverted
}

func (f *fake) Describe(context.Context) (Description, error) {
	return Description{Name: "fake", Options: []Option{{Name: "nodes", Type: Int, Default: "3"}},
		Faults: []FaultKind{{Kind: "CLOCK_SKEW", Params: []Option{{Name: "skew", Type: Duration, Default: "1s"}}}}}, nil
}
func (f *fake) Configure(_ context.Context, req ConfigureRequest) error {
	if req.Options.Int("nodes") > 9 {
		return errors.New("option nodes: want at most 9")
	}
	return nil
}
func (f *fake) Chapters(context.Context) ([]Chapter, error) {
	return []Chapter{{Title: "calm"}, {Title: "act", Action: f.action}, {ID: "named", Title: "named", Action: func(_ context.Context, p Progress) error {
		p.Critical("named action ran")
		return nil
	}}}, nil
}
func (f *fake) Setup(_ context.Context, req SetupRequest) error {
	f.mu.Lock()
	f.changed = req.HealthChanged
	f.mu.Unlock()
	return nil
}
func (f *fake) Teardown(context.Context, TeardownRequest) error { return nil }
func (f *fake) InjectChaos(_ context.Context, req InjectRequest) (Injected, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.injected = append(f.injected, req)
	return Injected{Handle: "h1", Target: "node-1"}, nil
}
func (f *fake) RevertChaos(context.Context, RevertRequest) (Reverted, error) { return f.revert, nil }
func (f *fake) Health(context.Context) (HealthSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.healthy {
		return HealthSnapshot{}, errors.New("cannot reach the cluster")
	}
	return HealthSnapshot{Nodes: []Node{{ID: "node-1", State: Up}}}, nil
}

// serve serves f over a real gRPC server on a unix socket, registered the
// way Serve does, and returns a client calling the wire's method names.
func serve(t *testing.T, f *fake) wire.SubjectClient {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	if err := (&grpcPlugin{impl: f}).GRPCServer(nil, s); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return wiretest.NewClient(conn)
}

func code(err error) codes.Code { return status.Code(err) }

func TestCallsBeforeConfigureAreRefused(t *testing.T) {
	c := serve(t, &fake{})
	ctx := context.Background()
	if _, err := c.Describe(ctx, &wire.DescribeRequest{}); err != nil {
		t.Fatalf("Describe before Configure: %v", err)
	}
	_, err := c.Chapters(ctx, &wire.ChaptersRequest{})
	if code(err) != codes.FailedPrecondition || status.Convert(err).Message() != "Chapters before Configure: the host must call Configure first (docs/PROTOCOL.md, call order)" {
		t.Errorf("Chapters before Configure: %v", err)
	}
	if _, err := c.InjectChaos(ctx, &wire.InjectChaosRequest{Fault: &wire.Fault{Kind: "CLOCK_SKEW"}}); code(err) != codes.FailedPrecondition {
		t.Errorf("InjectChaos before Configure: %v", err)
	}
	stream, err := c.Setup(ctx, &wire.SetupRequest{})
	if err == nil {
		err = wiretest.Drain(stream.Recv, nil)
	}
	if code(err) != codes.FailedPrecondition {
		t.Errorf("Setup before Configure: %v", err)
	}
}

func TestConfigureChecksOptionsAndRanges(t *testing.T) {
	c := serve(t, &fake{})
	ctx := context.Background()
	_, err := c.Configure(ctx, &wire.ConfigureRequest{Options: map[string]string{"node": "3"}})
	if code(err) != codes.InvalidArgument || status.Convert(err).Message() != "unknown option \"node\": known options are nodes (see `demohost describe`)" {
		t.Errorf("typo: %v", err)
	}
	_, err = c.Configure(ctx, &wire.ConfigureRequest{Options: map[string]string{"nodes": "12"}})
	if code(err) != codes.InvalidArgument || status.Convert(err).Message() != "option nodes: want at most 9" {
		t.Errorf("out of range: %v", err)
	}
}

func configured(t *testing.T, f *fake) wire.SubjectClient {
	t.Helper()
	c := serve(t, f)
	if _, err := c.Configure(context.Background(), &wire.ConfigureRequest{}); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestActionsAreFoundByChapterID(t *testing.T) {
	c := configured(t, &fake{action: func(_ context.Context, p Progress) error {
		p.Warning("acting")
		return nil
	}})
	ctx := context.Background()
	l, err := c.Chapters(ctx, &wire.ChaptersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ch := range l.Chapters {
		ids = append(ids, ch.Id)
	}
	if len(ids) != 3 || ids[0] != "1" || ids[1] != "2" || ids[2] != "named" {
		t.Fatalf("chapter ids = %v, want 1 2 named (by position unless set)", ids)
	}
	if l.Chapters[0].HasAction || !l.Chapters[1].HasAction {
		t.Errorf("has_action = %v %v", l.Chapters[0].HasAction, l.Chapters[1].HasAction)
	}
	lines := enter(t, c, "named")
	if len(lines) != 1 || lines[0].Message != "named action ran" || lines[0].Severity != wire.Severity_CRITICAL {
		t.Errorf("named action lines = %v", lines)
	}
	if lines := enter(t, c, "2"); len(lines) != 1 || lines[0].Severity != wire.Severity_WARNING {
		t.Errorf("chapter 2 lines = %v", lines)
	}
	stream, _ := c.EnterChapter(ctx, &wire.EnterChapterRequest{ChapterId: "1"})
	if err := wiretest.Drain(stream.Recv, nil); code(err) != codes.NotFound {
		t.Errorf("chapter without action: %v", err)
	}
}

func enter(t *testing.T, c wire.SubjectClient, id string) []*wire.Progress {
	t.Helper()
	stream, err := c.EnterChapter(context.Background(), &wire.EnterChapterRequest{ChapterId: id})
	if err != nil {
		t.Fatal(err)
	}
	var lines []*wire.Progress
	if err := wiretest.Drain(stream.Recv, func(p *wire.Progress) { lines = append(lines, p) }); err != nil {
		t.Fatalf("enter %s: %v", id, err)
	}
	return lines
}

func TestActionErrorsKeepTheirWordsAndFatalIsAborted(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code codes.Code
		msg  string
	}{
		{errors.New("node-3 did not\nanswer"), codes.Unknown, "node-3 did not answer"},
		{Fatal(errors.New("the cluster is gone")), codes.Aborted, "the cluster is gone"},
	} {
		c := configured(t, &fake{action: func(context.Context, Progress) error { return tt.err }})
		if _, err := c.Chapters(context.Background(), &wire.ChaptersRequest{}); err != nil {
			t.Fatal(err)
		}
		stream, _ := c.EnterChapter(context.Background(), &wire.EnterChapterRequest{ChapterId: "2"})
		err := wiretest.Drain(stream.Recv, nil)
		if code(err) != tt.code || status.Convert(err).Message() != tt.msg {
			t.Errorf("action error %v reached the host as %v, want %s %q", tt.err, err, tt.code, tt.msg)
		}
	}
}

func TestInjectChecksTheKindAndFillsParameters(t *testing.T) {
	f := &fake{}
	c := configured(t, f)
	ctx := context.Background()
	_, err := c.InjectChaos(ctx, &wire.InjectChaosRequest{Fault: &wire.Fault{Kind: "DISK_FULL"}})
	if code(err) != codes.InvalidArgument || status.Convert(err).Message() != `fault kind "DISK_FULL" is not among the kinds fake declares ([CLOCK_SKEW])` {
		t.Errorf("undeclared kind: %v", err)
	}
	_, err = c.InjectChaos(ctx, &wire.InjectChaosRequest{Fault: &wire.Fault{Kind: "CLOCK_SKEW", Params: map[string]string{"skew": "far"}}})
	if code(err) != codes.InvalidArgument {
		t.Errorf("bad parameter: %v", err)
	}
	if _, err := c.InjectChaos(ctx, &wire.InjectChaosRequest{Fault: &wire.Fault{Kind: "CLOCK_SKEW", Duration: durationpb.New(time.Second)}}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.injected) != 1 || f.injected[0].Fault.Params.Duration("skew") != time.Second || f.injected[0].Fault.Duration != time.Second {
		t.Errorf("the subject got %+v, want skew defaulted to 1s", f.injected)
	}
}

func TestRevertSaysWhatItDid(t *testing.T) {
	c := configured(t, &fake{revert: Reverted{Detail: "SIGCONT pid 42"}})
	r, err := c.RevertChaos(context.Background(), &wire.RevertChaosRequest{Handle: "h1", Fault: &wire.Fault{Kind: "CLOCK_SKEW"}, Target: "node-1"})
	if err != nil || r.Detail != "SIGCONT pid 42" {
		t.Errorf("revert = %v %v", r, err)
	}
	c = configured(t, &fake{})
	r, err = c.RevertChaos(context.Background(), &wire.RevertChaosRequest{Handle: "h1", Fault: &wire.Fault{Kind: "CLOCK_SKEW"}, Target: "node-1"})
	if err != nil || r.Detail != "reverted CLOCK_SKEW on node-1" {
		t.Errorf("revert without a detail = %v %v, want a line naming the fault, never the handle", r, err)
	}
}

// A subject that reports a change gets a snapshot to the host at once, not
// at the next interval; a failing Health becomes a snapshot with an error.
func TestWatchHealthPushesOnChange(t *testing.T) {
	f := &fake{}
	c := configured(t, f)
	// With an hour-long interval only a push can bring the next snapshot;
	// without one the stream ends at this deadline and the test fails.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	setup, _ := c.Setup(ctx, &wire.SetupRequest{})
	if err := wiretest.Drain(setup.Recv, nil); err != nil {
		t.Fatal(err)
	}
	stream, err := c.WatchHealth(ctx, &wire.WatchHealthRequest{Interval: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || first.Error != "cannot reach the cluster" {
		t.Fatalf("first snapshot = %v, %v; want the Health error as a snapshot", first, err)
	}
	f.mu.Lock()
	f.healthy = true
	changed := f.changed
	f.mu.Unlock()
	changed()
	next, err := stream.Recv()
	if err != nil || len(next.Nodes) != 1 {
		t.Fatalf("after the change: %v, %v; want the new snapshot pushed", next, err)
	}
}

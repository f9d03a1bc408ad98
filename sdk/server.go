package sdk

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	v1 "github.com/demohost/demohost/sdk/proto/demohost/v1"
)

// minHealthInterval bounds how often a host may ask for health.
const minHealthInterval = 10 * time.Millisecond

// server adapts a Subject to the generated gRPC service.
type server struct {
	v1.UnimplementedSubjectServer
	impl Subject
}

func (s *server) Describe(ctx context.Context, _ *v1.DescribeRequest) (*v1.Description, error) {
	return s.impl.Describe(ctx)
}

func (s *server) Configure(ctx context.Context, req *v1.ConfigureRequest) (*v1.ConfigureResponse, error) {
	d, err := s.impl.Describe(ctx)
	if err != nil {
		return nil, err
	}
	opts, err := ResolveOptions(d.Options, req.Options)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := s.impl.Configure(ctx, opts); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &v1.ConfigureResponse{}, nil
}

func (s *server) Setup(_ *v1.SetupRequest, stream v1.Subject_SetupServer) error {
	return s.impl.Setup(stream.Context(), progressTo(stream))
}

func (s *server) Teardown(_ *v1.TeardownRequest, stream v1.Subject_TeardownServer) error {
	return s.impl.Teardown(stream.Context(), progressTo(stream))
}

func progressTo(stream interface{ Send(*v1.ProgressEvent) error }) Progress {
	return func(msg string) { _ = stream.Send(&v1.ProgressEvent{Message: msg}) }
}

func (s *server) Chapters(ctx context.Context, _ *v1.ChaptersRequest) (*v1.ChapterList, error) {
	cs, err := s.impl.Chapters(ctx)
	if err != nil {
		return nil, err
	}
	return &v1.ChapterList{Chapters: cs}, nil
}

func (s *server) EnterChapter(req *v1.EnterChapterRequest, stream v1.Subject_EnterChapterServer) error {
	return s.impl.EnterChapter(stream.Context(), int(req.Index), func(msg string) {
		_ = stream.Send(&v1.ChapterEvent{Message: msg})
	})
}

func (s *server) InjectChaos(ctx context.Context, req *v1.InjectChaosRequest) (*v1.InjectChaosResponse, error) {
	if req.Config == nil {
		return nil, status.Error(codes.InvalidArgument, "inject chaos: no config")
	}
	return s.impl.InjectChaos(ctx, req.Config)
}

func (s *server) RevertChaos(ctx context.Context, req *v1.RevertChaosRequest) (*v1.RevertChaosResponse, error) {
	if err := s.impl.RevertChaos(ctx, req.Handle, req.Config); err != nil {
		return nil, err
	}
	return &v1.RevertChaosResponse{Detail: "reverted " + req.Handle}, nil
}

func (s *server) GetHealth(ctx context.Context, _ *v1.GetHealthRequest) (*v1.HealthSnapshot, error) {
	return s.health(ctx), nil
}

// WatchHealth sends a snapshot every interval. A failing Health call becomes
// a snapshot with Error set, so the stream survives subject outages.
func (s *server) WatchHealth(req *v1.WatchHealthRequest, stream v1.Subject_WatchHealthServer) error {
	interval := req.Interval.AsDuration()
	if interval < minHealthInterval {
		interval = minHealthInterval
	}
	ctx := stream.Context()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := stream.Send(s.health(ctx)); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *server) health(ctx context.Context) *v1.HealthSnapshot {
	snap, err := s.impl.Health(ctx)
	if err != nil {
		snap = &v1.HealthSnapshot{Error: err.Error()}
	}
	if snap == nil {
		snap = &v1.HealthSnapshot{}
	}
	if snap.TakenAt == nil {
		snap.TakenAt = Time(time.Now())
	}
	return snap
}

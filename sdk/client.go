package sdk

import (
	"context"
	"errors"
	"io"
	"time"

	v1 "github.com/demohost/demohost/sdk/proto/demohost/v1"
)

// Client is the host's side of the contract: a running plugin, reached over
// gRPC. Streaming calls deliver each message to a callback and return when
// the stream ends.
type Client struct {
	rpc v1.SubjectClient
}

// NewClient wraps a generated gRPC client (go-plugin does this for the host).
func NewClient(rpc v1.SubjectClient) *Client { return &Client{rpc: rpc} }

// Describe asks what the subject is.
func (c *Client) Describe(ctx context.Context) (*Description, error) {
	return c.rpc.Describe(ctx, &v1.DescribeRequest{})
}

// Configure passes --set options.
func (c *Client) Configure(ctx context.Context, opts map[string]string) error {
	_, err := c.rpc.Configure(ctx, &v1.ConfigureRequest{Options: opts})
	return err
}

// Setup brings up the subject's cluster.
func (c *Client) Setup(ctx context.Context, progress func(*ProgressEvent)) error {
	stream, err := c.rpc.Setup(ctx, &v1.SetupRequest{})
	if err != nil {
		return err
	}
	return drain(stream.Recv, progress)
}

// Teardown takes the subject's cluster down.
func (c *Client) Teardown(ctx context.Context, progress func(*ProgressEvent)) error {
	stream, err := c.rpc.Teardown(ctx, &v1.TeardownRequest{})
	if err != nil {
		return err
	}
	return drain(stream.Recv, progress)
}

// Chapters returns the chapter list.
func (c *Client) Chapters(ctx context.Context) ([]*Chapter, error) {
	l, err := c.rpc.Chapters(ctx, &v1.ChaptersRequest{})
	if err != nil {
		return nil, err
	}
	return l.Chapters, nil
}

// EnterChapter runs chapter index's on-enter action until it ends.
func (c *Client) EnterChapter(ctx context.Context, index int, status func(*ChapterEvent)) error {
	stream, err := c.rpc.EnterChapter(ctx, &v1.EnterChapterRequest{Index: int32(index)})
	if err != nil {
		return err
	}
	return drain(stream.Recv, status)
}

// InjectChaos starts a fault.
func (c *Client) InjectChaos(ctx context.Context, cfg *ChaosConfig) (*Injected, error) {
	return c.rpc.InjectChaos(ctx, &v1.InjectChaosRequest{Config: cfg})
}

// RevertChaos undoes the fault behind handle.
func (c *Client) RevertChaos(ctx context.Context, handle string, cfg *ChaosConfig) (string, error) {
	r, err := c.rpc.RevertChaos(ctx, &v1.RevertChaosRequest{Handle: handle, Config: cfg})
	if err != nil {
		return "", err
	}
	return r.Detail, nil
}

// Health takes one snapshot.
func (c *Client) Health(ctx context.Context) (*HealthSnapshot, error) {
	return c.rpc.GetHealth(ctx, &v1.GetHealthRequest{})
}

// WatchHealth delivers a snapshot every interval until ctx ends (returns nil)
// or the stream breaks (returns the error).
func (c *Client) WatchHealth(ctx context.Context, interval time.Duration, snap func(*HealthSnapshot)) error {
	stream, err := c.rpc.WatchHealth(ctx, &v1.WatchHealthRequest{Interval: Dur(interval)})
	if err != nil {
		return err
	}
	err = drain(stream.Recv, snap)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func drain[T any](recv func() (T, error), each func(T)) error {
	for {
		m, err := recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if each != nil {
			each(m)
		}
	}
}

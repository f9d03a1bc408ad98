package limiter

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Batching: concurrent checks leave a node together. Each check is still
// its own EVALSHA, atomic on its own; a batch only shares one write and one
// read, so under load Redis and the node make far fewer system calls. A
// lone check goes out at once: batching never waits for company.
const (
	maxBatch = 64
	batchers = 4 // batches in flight at once
)

// checkRequest is one check waiting for a batch.
type checkRequest struct {
	ctx      context.Context // the caller's; a check whose caller gave up is dropped
	key      string
	limit    int
	windowUS int64
	retainUS int64
	member   string
	done     chan checkResult
}

type checkResult struct {
	decision Decision
	err      error
}

// batcher sends queued checks to Redis in pipelines.
type batcher struct {
	rdb      *redis.Client
	timeout  time.Duration
	requests chan *checkRequest
}

// newBatcher starts the batch senders; they stop when ctx ends.
func newBatcher(ctx context.Context, rdb *redis.Client, timeout time.Duration) *batcher {
	b := &batcher{rdb: rdb, timeout: timeout, requests: make(chan *checkRequest)}
	for range batchers {
		go b.run(ctx)
	}
	return b
}

// check queues one check and waits for its answer or for ctx to end.
func (b *batcher) check(ctx context.Context, r *checkRequest) (Decision, error) {
	r.ctx, r.done = ctx, make(chan checkResult, 1)
	select {
	case b.requests <- r:
	case <-ctx.Done():
		return Decision{}, fmt.Errorf("check %q in redis: %w", r.key, ctx.Err())
	}
	select {
	case res := <-r.done:
		return res.decision, res.err
	case <-ctx.Done():
		// It may still run in Redis: the caller treats it as a timeout.
		return Decision{}, fmt.Errorf("check %q in redis: %w", r.key, ctx.Err())
	}
}

func (b *batcher) run(ctx context.Context) {
	for {
		var first *checkRequest
		select {
		case first = <-b.requests:
		case <-ctx.Done():
			return
		}
		batch := []*checkRequest{first}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-b.requests:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.send(batch)
	}
}

// send runs a batch as one pipeline. Checks whose caller already gave up
// are left out, and nothing is retried except after NOSCRIPT (the script
// was not in Redis' cache, so those checks did not run).
func (b *batcher) send(batch []*checkRequest) {
	live := batch[:0]
	for _, r := range batch {
		if r.ctx.Err() == nil {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	cmds := b.pipeline(ctx, live)
	var again []*checkRequest
	var againAt []int
	for i, c := range cmds {
		if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			again, againAt = append(again, live[i]), append(againAt, i)
		}
	}
	if len(again) > 0 && checkScript.Load(ctx, b.rdb).Err() == nil {
		for j, c := range b.pipeline(ctx, again) {
			cmds[againAt[j]] = c
		}
	}
	for i, r := range live {
		r.done <- decode(r.key, cmds[i])
	}
}

func (b *batcher) pipeline(ctx context.Context, rs []*checkRequest) []*redis.Cmd {
	pipe := b.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(rs))
	for i, r := range rs {
		cmds[i] = checkScript.EvalSha(ctx, pipe, []string{LogKey(r.key)}, r.limit, r.windowUS, r.retainUS, r.member)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	return cmds
}

func decode(key string, c *redis.Cmd) checkResult {
	v, err := c.Int64Slice()
	if err != nil {
		return checkResult{err: fmt.Errorf("check %q in redis: %w", key, err)}
	}
	if len(v) != 5 {
		return checkResult{err: fmt.Errorf("check %q in redis: script returned %d values, want 5", key, len(v))}
	}
	return checkResult{decision: Decision{Allowed: v[0] == 1, Count: v[1], Remaining: v[2], RetryAfterUS: v[3], NowUS: v[4]}}
}

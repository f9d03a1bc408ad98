// Package ratelimiter is the demohost subject for a Redis-backed distributed
// rate limiter: it runs Redis and N limiter nodes (package limiter) as local
// processes or Docker containers, drives traffic through them, injects real
// faults (Redis SIGSTOP / docker pause, node kill, traffic bursts) and
// checks the invariants a rate limiter must keep.
package ratelimiter

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/demohost/demohost/sdk"
)

// cluster is one runtime of the subject: Redis plus the limiter nodes.
type cluster interface {
	// Start brings Redis and every node up and waits until they answer.
	Start(ctx context.Context, progress sdk.Progress) error
	// Stop takes everything down; stopping twice is fine.
	Stop(ctx context.Context, progress sdk.Progress) error
	// RedisAddr is host:port of Redis as seen from the plugin.
	RedisAddr() string
	// Nodes are the limiter nodes, in order.
	Nodes() []nodeRef
	// RedisState says whether Redis runs, is paused or is gone.
	RedisState(ctx context.Context) sdk.NodeState
	// PauseRedis freezes Redis; the handle reverts it (resumeLocalRedis,
	// unpauseDockerRedis), detail says what was done.
	PauseRedis(ctx context.Context) (handle, detail string, err error)
	// KillNode kills one node; StartNode starts it again. Each returns a
	// line saying what it did.
	KillNode(ctx context.Context, id string) (detail string, err error)
	StartNode(ctx context.Context, id string) (detail string, err error)
	// Kind names the runtime for messages ("local processes", "docker").
	Kind() string
}

// nodeRef names one limiter node and where the plugin reaches it.
type nodeRef struct {
	ID   string
	Addr string // host:port
}

// nodeSettings are the options every node is started with.
type nodeSettings struct {
	Limit      int
	Window     time.Duration
	FailPolicy string
	CacheTTL   time.Duration
	Retain     time.Duration
}

// args are the command-line arguments of `demohost-ratelimiter node`.
func (s nodeSettings) args(id, listen, redisAddr string) []string {
	return []string{"node",
		"--id", id, "--listen", listen, "--redis", redisAddr,
		"--limit", fmt.Sprint(s.Limit), "--window", s.Window.String(),
		"--fail-policy", s.FailPolicy, "--cache-ttl", s.CacheTTL.String(),
		"--retain", s.Retain.String(),
	}
}

// Chaos handles. They are self-contained so that a fresh plugin process can
// revert them: "redis-pause:local:pid=1234,start=5678",
// "redis-pause:docker:<container id>", "node-kill:node-2", "burst:3".
const (
	redisPausePrefix = "redis-pause:"
	nodeKillPrefix   = "node-kill:"
	burstPrefix      = "burst:"
)

func nodeIndex(nodes []nodeRef, id string) (int, error) {
	for i, n := range nodes {
		if n.ID == id {
			return i, nil
		}
	}
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID
	}
	return -1, fmt.Errorf("no node %q (nodes are %s)", id, strings.Join(ids, ", "))
}

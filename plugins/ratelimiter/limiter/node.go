package limiter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Fail policies: what a node does when Redis does not answer.
const (
	FailOpen   = "open"   // admit (the default, as Envoy's rate limiting fails open)
	FailClosed = "closed" // deny
	FailLocal  = "local"  // apply the limit in a window of this node only
)

// Config configures one node.
type Config struct {
	ID            string
	Listen        string // host:port of the HTTP API
	RedisAddr     string
	DefaultLimit  int           // for keys without a stored limit
	DefaultWindow time.Duration // likewise
	FailPolicy    string        // open, closed or local
	CacheTTL      time.Duration // how long a key's limit is cached
	// RedisTimeout bounds each Redis command (read and write). go-redis
	// would otherwise wait 3s and retry a timed-out EVALSHA.
	RedisTimeout time.Duration
	// Retain is how long admissions are kept for audit (≥ the window).
	Retain time.Duration
}

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.ID == "" {
		c.ID = "node"
	}
	if c.DefaultLimit < 0 {
		return c, fmt.Errorf("limit %d: want 0 or more", c.DefaultLimit)
	}
	if c.DefaultWindow <= 0 {
		c.DefaultWindow = time.Second
	}
	switch c.FailPolicy {
	case "":
		c.FailPolicy = FailOpen
	case FailOpen, FailClosed, FailLocal:
	default:
		return c, fmt.Errorf("fail policy %q: want open, closed or local", c.FailPolicy)
	}
	if c.CacheTTL < 0 {
		c.CacheTTL = 0
	}
	if c.RedisTimeout <= 0 {
		c.RedisTimeout = 100 * time.Millisecond
	}
	if c.Retain < 4*c.DefaultWindow {
		c.Retain = 4 * c.DefaultWindow
	}
	if c.Retain < 30*time.Second {
		c.Retain = 30 * time.Second
	}
	return c, nil
}

// NewRedisClient returns a go-redis client set up for the limiter on
// purpose: a short read/write timeout, no retries (a timed-out EVALSHA may
// still run later; retrying it would count the request twice) and the
// context's deadline honoured.
func NewRedisClient(addr string, timeout time.Duration) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:                  addr,
		DialTimeout:           2 * timeout,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		PoolTimeout:           2 * timeout,
		MaxRetries:            -1,
		ContextTimeoutEnabled: true,
		PoolSize:              64,
		MinIdleConns:          4,
		DisableIdentity:       true, // no CLIENT SETINFO round trip per connection
		Protocol:              2,    // RESP2: no push-notification check on every reply
	})
}

// Node is one limiter node. Create it with NewNode; serve it with Serve.
type Node struct {
	cfg     Config
	rdb     *redis.Client
	batch   *batcher
	stop    context.CancelFunc
	limits  *limitCache
	log     *admissionLog
	local   *localWindows
	metrics *metrics
	seq     atomic.Int64
	// offsetUS is Redis time minus local time, from the last script answer,
	// so admissions made without Redis are stamped in (estimated) Redis time.
	offsetUS atomic.Int64

	mu       sync.Mutex
	redisErr string // last Redis error, "" when the last call worked
}

// NewNode returns a node for cfg.
func NewNode(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	rdb := NewRedisClient(cfg.RedisAddr, cfg.RedisTimeout)
	ctx, stop := context.WithCancel(context.Background())
	n := &Node{
		cfg:     cfg,
		rdb:     rdb,
		batch:   newBatcher(ctx, rdb, cfg.RedisTimeout),
		stop:    stop,
		log:     newAdmissionLog(cfg.Retain),
		local:   newLocalWindows(),
		metrics: newMetrics(),
	}
	n.limits = newLimitCache(rdb, cfg.CacheTTL, Limit{Limit: cfg.DefaultLimit, WindowMS: cfg.DefaultWindow.Milliseconds()}, n.metrics)
	return n, nil
}

// Close stops the batch senders and releases the Redis connections.
func (n *Node) Close() error {
	n.stop()
	return n.rdb.Close()
}

// Serve answers HTTP on cfg.Listen and heartbeats to Redis until ctx ends.
func (n *Node) Serve(ctx context.Context) error {
	l, err := net.Listen("tcp", n.cfg.Listen)
	if err != nil {
		return fmt.Errorf("node %s: listen: %w", n.cfg.ID, err)
	}
	return n.ServeListener(ctx, l)
}

// ServeListener is Serve on a listener the caller opened.
func (n *Node) ServeListener(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: n.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go n.heartbeat(ctx, l.Addr().String())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("node %s: serve: %w", n.cfg.ID, err)
	}
	return nil
}

func (n *Node) heartbeat(ctx context.Context, addr string) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		hctx, cancel := context.WithTimeout(ctx, n.cfg.RedisTimeout)
		_ = heartbeatScript.Run(hctx, n.rdb, []string{nodesKey}, n.cfg.ID, addr).Err()
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check decides one request for key.
func (n *Node) Check(ctx context.Context, key string) CheckResponse {
	start := time.Now()
	resp := n.check(ctx, key)
	n.metrics.observe(resp, time.Since(start))
	return resp
}

func (n *Node) check(ctx context.Context, key string) CheckResponse {
	lim := n.limits.get(ctx, key)
	resp := CheckResponse{Limit: lim.Limit, Node: n.cfg.ID}
	windowUS := lim.WindowMS * 1000
	if lim.Limit <= 0 {
		resp.Source, resp.RetryAfter = SourceLimitZero, float64(lim.WindowMS)/1000
		return resp
	}
	member := n.cfg.ID + ":" + strconv.FormatInt(n.seq.Add(1), 10)
	rctx, cancel := context.WithTimeout(ctx, n.cfg.RedisTimeout)
	d, err := n.batch.check(rctx, &checkRequest{key: key, limit: lim.Limit, windowUS: windowUS, retainUS: n.cfg.Retain.Microseconds(), member: member})
	cancel()
	if err == nil {
		n.setRedisErr(nil)
		n.offsetUS.Store(d.NowUS - time.Now().UnixMicro())
		resp.Allowed, resp.Count, resp.Remaining = d.Allowed, d.Count, d.Remaining
		resp.RetryAfter = float64(d.RetryAfterUS) / 1e6
		resp.Source = SourceRedis
		if d.Allowed {
			n.log.add(key, d.NowUS, false)
		}
		return resp
	}
	n.setRedisErr(err)
	n.metrics.redisErrors.Inc()
	now := n.nowUS()
	switch n.cfg.FailPolicy {
	case FailClosed:
		resp.Source, resp.RetryAfter = SourceFailClosed, float64(lim.WindowMS)/1000
	case FailLocal:
		resp.Source = SourceLocal
		resp.Allowed, resp.Count = n.local.admit(key, now, windowUS, lim.Limit)
		resp.Remaining = max(0, int64(lim.Limit)-resp.Count)
		if !resp.Allowed {
			resp.RetryAfter = float64(lim.WindowMS) / 1000
		}
	default:
		resp.Source, resp.Allowed = SourceFailOpen, true
	}
	if resp.Allowed {
		n.log.add(key, now, true)
	}
	return resp
}

// nowUS estimates Redis time from the local clock and the last known offset.
func (n *Node) nowUS() int64 { return time.Now().UnixMicro() + n.offsetUS.Load() }

func (n *Node) setRedisErr(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	n.mu.Lock()
	n.redisErr = msg
	n.mu.Unlock()
}

// SetLimit stores key's limit in Redis and refreshes this node's cache
// (other nodes see it when their cached entry expires).
func (n *Node) SetLimit(ctx context.Context, key string, l Limit) (Limit, error) {
	if l.Limit < 0 || l.WindowMS <= 0 {
		return Limit{}, fmt.Errorf("limit %d per %dms: want limit ≥ 0 and window_ms > 0", l.Limit, l.WindowMS)
	}
	rctx, cancel := context.WithTimeout(ctx, 2*n.cfg.RedisTimeout)
	defer cancel()
	updated, err := setLimitScript.Run(rctx, n.rdb, []string{LimitKey(key)}, l.Limit, l.WindowMS).Text()
	if err != nil {
		return Limit{}, fmt.Errorf("store limit of %q in redis: %w", key, err)
	}
	l.UpdatedUS, _ = strconv.ParseInt(updated, 10, 64)
	l.Source = "redis"
	n.limits.put(key, l)
	return l, nil
}

// GetLimit is the limit this node applies to key now.
func (n *Node) GetLimit(ctx context.Context, key string) Limit { return n.limits.get(ctx, key) }

// Nodes lists the nodes that heartbeat to this Redis.
func (n *Node) Nodes(ctx context.Context) ([]NodeInfo, error) {
	rctx, cancel := context.WithTimeout(ctx, 2*n.cfg.RedisTimeout)
	defer cancel()
	m, err := n.rdb.HGetAll(rctx, nodesKey).Result()
	if err != nil {
		return nil, fmt.Errorf("list nodes from redis: %w", err)
	}
	out := make([]NodeInfo, 0, len(m))
	for id, v := range m {
		addr, seen, _ := strings.Cut(v, " ")
		s, _ := strconv.ParseInt(seen, 10, 64)
		out = append(out, NodeInfo{ID: id, Address: addr, LastSeen: s})
	}
	return out, nil
}

// Admitted reports this node's admissions.
func (n *Node) Admitted() Admitted {
	return Admitted{Node: n.cfg.ID, NowUS: n.nowUS(), Keys: n.log.snapshot(n.nowUS())}
}

// Health is the node's own view of itself.
func (n *Node) Health() Health {
	n.mu.Lock()
	defer n.mu.Unlock()
	h := Health{Node: n.cfg.ID, Redis: "ok", FailPolicy: n.cfg.FailPolicy, PID: os.Getpid()}
	if n.redisErr != "" {
		h.Redis = n.redisErr
	}
	return h
}

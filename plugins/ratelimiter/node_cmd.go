package ratelimiter

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/demohost/demohost/plugins/ratelimiter/limiter"
)

// RunNode runs one limiter node until SIGTERM or SIGINT: the `node` mode of
// the plugin binary (`demohost-ratelimiter node --listen … --redis …`).
func RunNode(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("demohost-ratelimiter node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg limiter.Config
	fs.StringVar(&cfg.ID, "id", "node-1", "node id")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "HTTP listen address")
	fs.StringVar(&cfg.RedisAddr, "redis", "127.0.0.1:6379", "Redis address")
	fs.IntVar(&cfg.DefaultLimit, "limit", 20, "requests per window for keys without a stored limit")
	fs.DurationVar(&cfg.DefaultWindow, "window", 2*time.Second, "sliding window length")
	fs.StringVar(&cfg.FailPolicy, "fail-policy", limiter.FailOpen, "when Redis fails: open, closed or local")
	fs.DurationVar(&cfg.CacheTTL, "cache-ttl", 8*time.Second, "how long a key's limit is cached")
	fs.DurationVar(&cfg.RedisTimeout, "redis-timeout", 100*time.Millisecond, "timeout of each Redis command")
	fs.DurationVar(&cfg.Retain, "retain", 30*time.Second, "how long admissions are kept for audit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: node takes only flags (see -h)", fs.Args())
	}
	n, err := limiter.NewNode(cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return n.Serve(ctx)
}

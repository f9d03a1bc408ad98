package ratelimiter

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alicebob/miniredis/v2"
)

// RunEmbeddedRedis serves the embedded Redis-compatible server (miniredis:
// Lua scripts with EVALSHA, TIME, sorted sets and hashes, in memory) on
// --listen until SIGTERM or SIGINT. The local runtime uses it only when
// redis-server is not installed, and says so; it is a stand-in, not Redis.
func RunEmbeddedRedis(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("demohost-ratelimiter embedded-redis", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:6379", "address to serve on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr(*listen); err != nil {
		return fmt.Errorf("embedded redis on %s: %w", *listen, err)
	}
	defer m.Close()
	fmt.Fprintf(stderr, "embedded Redis-compatible server (miniredis) on %s; install redis-server for real Redis\n", *listen)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	<-sigs
	return nil
}

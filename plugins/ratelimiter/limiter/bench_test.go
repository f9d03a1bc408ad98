package limiter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/demohost/demohost/plugins/ratelimiter/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// Throughput settings shared by the ceiling and the nodes: random keys out
// of benchKeys (each node's limit cache is warm, as for tenants in use), a
// limit high enough that every check takes the admit path, and
// benchClients concurrent clients.
const (
	benchKeys    = 1000
	benchLimit   = 1000000
	benchClients = 50
	benchSpan    = 3 * time.Second
)

// BenchmarkThroughput measures, against one real Redis in one run: the
// ceiling (redis-benchmark calling the check script with EVALSHA directly),
// the decisions/s of one node and of a three-node cluster over HTTP, and
// their ratio to the ceiling.
//
// Target: node and cluster decisions/s at least 50% of the EVALSHA ceiling.
func BenchmarkThroughput(b *testing.B) {
	if _, err := exec.LookPath("redis-benchmark"); err != nil {
		if testing.Short() {
			b.Skip("-short: redis-benchmark not installed")
		}
		b.Fatal("redis-benchmark is not installed: run `make prereqs` (or apt-get install redis-tools), or -short to skip this benchmark")
	}
	_, addr := testredis.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	sha, err := rdb.ScriptLoad(context.Background(), CheckScriptSource).Result()
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{DefaultLimit: benchLimit, DefaultWindow: 2 * time.Second, CacheTTL: time.Minute, RedisTimeout: time.Second}
	for range b.N {
		// The machine is shared: the ceiling is taken before and after the
		// nodes and averaged, so a change of load hits both sides alike.
		before := redisBenchmarkEvalsha(b, addr, sha)
		one := decisionsPerSecond(b, startNodes(b, addr, 1, cfg))
		three := decisionsPerSecond(b, startNodes(b, addr, 3, cfg))
		ceiling := (before + redisBenchmarkEvalsha(b, addr, sha)) / 2
		b.ReportMetric(ceiling, "evalsha/s")
		b.ReportMetric(one, "node-decisions/s")
		b.ReportMetric(three, "cluster-decisions/s")
		b.ReportMetric(100*one/ceiling, "node-%-of-ceiling")
		b.ReportMetric(100*three/ceiling, "cluster-%-of-ceiling")
	}
}

// redisBenchmarkEvalsha runs redis-benchmark with the check script and
// returns its requests per second.
func redisBenchmarkEvalsha(b *testing.B, addr, sha string) float64 {
	host, port, _ := strings.Cut(addr, ":")
	n := 200000
	out, err := exec.Command("redis-benchmark", "-h", host, "-p", port, "-c", strconv.Itoa(benchClients),
		"-n", strconv.Itoa(n), "-r", strconv.Itoa(benchKeys), "--csv",
		"EVALSHA", sha, "1", "rl:log:bench:__rand_int__",
		strconv.Itoa(benchLimit), "2000000", "30000000", "rb:__rand_int__").CombinedOutput()
	if err != nil {
		b.Fatalf("redis-benchmark: %v\n%s", err, out)
	}
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil || len(rows) < 2 {
		b.Fatalf("redis-benchmark output: %v\n%s", err, out)
	}
	rps, err := strconv.ParseFloat(rows[1][1], 64)
	if err != nil {
		b.Fatalf("redis-benchmark rps %q: %v", rows[1][1], err)
	}
	return rps
}

func startNodes(b *testing.B, redisAddr string, n int, cfg Config) []string {
	var urls []string
	for i := range n {
		c := cfg
		c.ID, c.RedisAddr = fmt.Sprintf("bench-%d", i+1), redisAddr
		node, err := NewNode(c)
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(node.Handler())
		b.Cleanup(func() { srv.Close(); node.Close() })
		urls = append(urls, srv.URL)
	}
	return urls
}

// decisionsPerSecond drives POST /check from benchClients keep-alive
// connections, spread over the nodes, for benchSpan, after a warm-up that
// fills the nodes' limit caches and Redis connection pools. Like
// redis-benchmark on the Redis side, the load generator is a minimal
// client (one request in flight per connection, responses parsed by hand),
// so the machine's two cores go to the node and Redis, not to net/http's
// client.
func decisionsPerSecond(b *testing.B, urls []string) float64 {
	drive(b, urls, time.Second)
	return drive(b, urls, benchSpan)
}

func drive(b *testing.B, urls []string, span time.Duration) float64 {
	var done atomic.Int64
	deadline := time.Now().Add(span)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range benchClients {
		wg.Go(func() {
			host := strings.TrimPrefix(urls[i%len(urls)], "http://")
			conn, err := net.Dial("tcp", host)
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close()
			r := bufio.NewReader(conn)
			for time.Now().Before(deadline) {
				body := fmt.Sprintf(`{"key":"bench:%d"}`, rand.IntN(benchKeys))
				req := fmt.Sprintf("POST /check HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", host, len(body), body)
				if _, err := io.WriteString(conn, req); err != nil {
					b.Error(err)
					return
				}
				status, err := readResponse(r)
				if err != nil {
					b.Error(err)
					return
				}
				if status == http.StatusOK {
					done.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds()
}

// readResponse reads one HTTP/1.1 response with a Content-Length body and
// returns its status code.
func readResponse(r *bufio.Reader) (int, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	var status int
	if _, err := fmt.Sscanf(line, "HTTP/1.1 %d", &status); err != nil {
		return 0, fmt.Errorf("status line %q: %w", line, err)
	}
	length := 0
	for {
		h, err := r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		h = strings.TrimSpace(h)
		if h == "" {
			break
		}
		if v, ok := strings.CutPrefix(strings.ToLower(h), "content-length:"); ok {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	_, err = r.Discard(length)
	return status, err
}

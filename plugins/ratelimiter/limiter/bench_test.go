package limiter

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
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
		b.Skip("redis-benchmark not installed (apt-get install redis-tools)")
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
		ceiling := redisBenchmarkEvalsha(b, addr, sha)
		one := decisionsPerSecond(b, startNodes(b, addr, 1, cfg))
		three := decisionsPerSecond(b, startNodes(b, addr, 3, cfg))
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

// decisionsPerSecond drives POST /check from benchClients clients, spread
// over the nodes, for benchSpan, after a warm-up that fills the nodes'
// limit caches and connection pools.
func decisionsPerSecond(b *testing.B, urls []string) float64 {
	drive(b, urls, time.Second)
	return drive(b, urls, benchSpan)
}

func drive(b *testing.B, urls []string, span time.Duration) float64 {
	tr := &http.Transport{MaxIdleConnsPerHost: benchClients, MaxConnsPerHost: benchClients}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var done atomic.Int64
	deadline := time.Now().Add(span)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range benchClients {
		wg.Go(func() {
			url := urls[i%len(urls)] + "/check"
			for time.Now().Before(deadline) {
				body := fmt.Sprintf(`{"key":"bench:%d"}`, rand.IntN(benchKeys))
				resp, err := c.Post(url, "application/json", strings.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					done.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds()
}

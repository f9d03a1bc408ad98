package limiter

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/demohost/demohost/internal/testkit"
	"github.com/demohost/demohost/plugins/ratelimiter/internal/testredis"
)

// cluster starts n nodes against one Redis, each behind a real HTTP server.
func cluster(t *testing.T, redisAddr string, n int, cfg Config) []*httptest.Server {
	t.Helper()
	var servers []*httptest.Server
	for i := range n {
		c := cfg
		c.ID = "node-" + string(rune('1'+i))
		c.RedisAddr = redisAddr
		node, err := NewNode(c)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(node.Handler())
		t.Cleanup(func() { srv.Close(); node.Close() })
		servers = append(servers, srv)
	}
	return servers
}

func check(t *testing.T, base, key string) CheckResponse {
	t.Helper()
	body, _ := json.Marshal(CheckRequest{Key: key})
	resp, err := http.Post(base+"/check", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return CheckResponse{}
	}
	defer resp.Body.Close()
	var out CheckResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Error(err)
	}
	if want := map[bool]int{true: 200, false: 429}[out.Allowed]; resp.StatusCode != want {
		t.Errorf("status %d for allowed=%v", resp.StatusCode, out.Allowed)
	}
	return out
}

// burst sends total checks for key spread over the servers, concurrently,
// and returns the answers.
func burst(t *testing.T, servers []*httptest.Server, key string, total int) []CheckResponse {
	t.Helper()
	out := make([]CheckResponse, total)
	var wg sync.WaitGroup
	for i := range total {
		wg.Go(func() { out[i] = check(t, servers[i%len(servers)].URL, key) })
	}
	wg.Wait()
	return out
}

func admitted(rs []CheckResponse) (n int, sources map[string]int) {
	sources = map[string]int{}
	for _, r := range rs {
		if r.Allowed {
			n++
		}
		sources[r.Source]++
	}
	return n, sources
}

func TestBurstAcrossThreeNodesAdmitsAtMostTheLimit(t *testing.T) {
	_, addr := testredis.Start(t)
	servers := cluster(t, addr, 3, Config{DefaultLimit: 20, DefaultWindow: 10 * time.Second, RedisTimeout: time.Second})
	rs := burst(t, servers, "burst", 90)
	n, sources := admitted(rs)
	if n != 20 {
		t.Fatalf("admitted %d of 90 across 3 nodes, want exactly the limit 20 (sources %v)", n, sources)
	}
	if sources[SourceRedis] != 90 {
		t.Fatalf("every decision should come from the Redis script, got %v", sources)
	}
	for _, r := range rs {
		if !r.Allowed && (r.RetryAfter <= 0 || r.RetryAfter > 10) {
			t.Fatalf("denied with retry_after %v, want within the 10s window", r.RetryAfter)
		}
	}
	// Each node reports what it admitted; together exactly the limit.
	total := 0
	for _, s := range servers {
		var a Admitted
		getJSON(t, s.URL+"/api/admitted", &a)
		total += len(a.Keys["burst"].TimesUS)
	}
	if total != 20 {
		t.Fatalf("nodes report %d admissions, want 20", total)
	}
}

func TestWindowSlidesOnRedisTime(t *testing.T) {
	_, addr := testredis.Start(t)
	servers := cluster(t, addr, 1, Config{DefaultLimit: 3, DefaultWindow: 300 * time.Millisecond})
	for i := range 3 {
		if r := check(t, servers[0].URL, "k"); !r.Allowed || r.Remaining != int64(2-i) {
			t.Fatalf("check %d: %+v", i+1, r)
		}
	}
	r := check(t, servers[0].URL, "k")
	if r.Allowed {
		t.Fatal("the 4th check in the window was admitted")
	}
	testkit.WaitFor(t, 5*time.Second, "the window to slide", func() bool { return check(t, servers[0].URL, "k").Allowed })
}

func TestFailPoliciesWhileRedisIsPaused(t *testing.T) {
	for _, tc := range []struct {
		policy      string
		wantAllowed int // of 30 checks over 3 nodes, limit 5
		wantSource  string
	}{
		{FailOpen, 30, SourceFailOpen},
		{FailClosed, 0, SourceFailClosed},
		{FailLocal, 15, SourceLocal}, // 5 per node
	} {
		t.Run(tc.policy, func(t *testing.T) {
			redisProc, addr := testredis.Start(t)
			servers := cluster(t, addr, 3, Config{DefaultLimit: 5, DefaultWindow: 10 * time.Second, FailPolicy: tc.policy, RedisTimeout: 50 * time.Millisecond, CacheTTL: time.Minute})
			check(t, servers[0].URL, "warm") // connections and script loaded
			if err := redisProc.Pause(); err != nil {
				t.Fatal(err)
			}
			defer redisProc.Resume()
			start := time.Now()
			n, sources := admitted(burst(t, servers, "paused", 30))
			if n != tc.wantAllowed || sources[tc.wantSource] != 30 {
				t.Fatalf("policy %s: admitted %d (sources %v), want %d all from %s", tc.policy, n, sources, tc.wantAllowed, tc.wantSource)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("30 checks took %s with Redis paused: the short Redis timeout is not applied", took)
			}
			var h Health
			getJSON(t, servers[0].URL+"/health", &h)
			if h.Redis == "ok" {
				t.Fatal("/health says Redis is ok while it is paused")
			}
		})
	}
}

func TestStaleLimitCacheGhostAllows(t *testing.T) {
	_, addr := testredis.Start(t)
	servers := cluster(t, addr, 2, Config{DefaultLimit: 100, DefaultWindow: 10 * time.Second, CacheTTL: 500 * time.Millisecond})
	a, b := servers[0].URL, servers[1].URL
	if !check(t, b, "k").Allowed { // b caches limit 100
		t.Fatal("first check denied")
	}
	var stored Limit
	putJSON(t, a+"/api/limits/k", Limit{Limit: 0, WindowMS: 10000}, &stored)
	if stored.Limit != 0 || stored.UpdatedUS == 0 {
		t.Fatalf("stored %+v", stored)
	}
	if r := check(t, a, "k"); r.Allowed || r.Source != SourceLimitZero {
		t.Fatalf("the node that took the change admitted: %+v", r)
	}
	if r := check(t, b, "k"); !r.Allowed || r.Limit != 100 {
		t.Fatalf("the stale node should still admit under limit 100: %+v", r)
	}
	testkit.WaitFor(t, 5*time.Second, "the stale cache entry to expire", func() bool {
		r := check(t, b, "k")
		return !r.Allowed && r.Source == SourceLimitZero
	})
	var got Limit
	getJSON(t, b+"/api/limits/k", &got)
	if got.Limit != 0 {
		t.Fatalf("GET /api/limits/k on the refreshed node = %+v", got)
	}
}

func TestBadRequestsSayWhatToSend(t *testing.T) {
	_, addr := testredis.Start(t)
	servers := cluster(t, addr, 1, Config{DefaultLimit: 1})
	resp, err := http.Post(servers[0].URL+"/check", "application/json", bytes.NewReader([]byte(`{}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("empty key: status %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPut, servers[0].URL+"/api/limits/k", bytes.NewReader([]byte(`{"limit":-1,"window_ms":10}`)))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("negative limit: status %d", resp.StatusCode)
	}
	if _, err := NewNode(Config{FailPolicy: "maybe"}); err == nil {
		t.Fatal("an unknown fail policy was accepted")
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func putJSON(t *testing.T, url string, body, v any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader(b))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT %s: status %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// A Redis that lost its script cache (restarted, SCRIPT FLUSH) gets the
// script again; the checks that met NOSCRIPT did not run, so they run once.
func TestScriptReloadedAfterScriptFlush(t *testing.T) {
	_, addr := testredis.Start(t)
	servers := cluster(t, addr, 1, Config{DefaultLimit: 10, DefaultWindow: 10 * time.Second})
	if r := check(t, servers[0].URL, "k"); !r.Allowed || r.Source != SourceRedis {
		t.Fatalf("first check: %+v", r)
	}
	rdb := NewRedisClient(addr, time.Second)
	defer rdb.Close()
	if err := rdb.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	rs := burst(t, servers, "k", 5)
	for _, r := range rs {
		if !r.Allowed || r.Source != SourceRedis {
			t.Fatalf("check after SCRIPT FLUSH: %+v", r)
		}
	}
	if n, err := rdb.ZCard(context.Background(), LogKey("k")).Result(); err != nil || n != 6 {
		t.Fatalf("Redis recorded %d admissions (%v), want 6: each check ran exactly once", n, err)
	}
}

package ratelimiter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/demohost/demohost/plugins/ratelimiter/limiter"
)

// client talks to the limiter nodes over loopback (or the Docker network's
// published ports).
type client struct{ http *http.Client }

func newClient() *client {
	return &client{http: &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 128, IdleConnTimeout: 30 * time.Second},
	}}
}

func (c *client) check(ctx context.Context, addr, key string) (limiter.CheckResponse, error) {
	body, _ := json.Marshal(limiter.CheckRequest{Key: key})
	var out limiter.CheckResponse
	err := c.do(ctx, http.MethodPost, "http://"+addr+"/check", body, &out, http.StatusOK, http.StatusTooManyRequests)
	return out, err
}

func (c *client) setLimit(ctx context.Context, addr, key string, l limiter.Limit) (limiter.Limit, error) {
	body, _ := json.Marshal(l)
	var out limiter.Limit
	err := c.do(ctx, http.MethodPut, "http://"+addr+"/api/limits/"+key, body, &out, http.StatusOK)
	return out, err
}

func (c *client) getJSON(ctx context.Context, url string, v any) error {
	return c.do(ctx, http.MethodGet, url, nil, v, http.StatusOK)
}

func (c *client) do(ctx context.Context, method, url string, body []byte, v any, okStatus ...int) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !slices.Contains(okStatus, resp.StatusCode) {
		return fmt.Errorf("%s %s: status %d", method, url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	return nil
}

// httpProbe is a readiness probe: url answers 200.
func httpProbe(url string) func(context.Context) error {
	c := &http.Client{Timeout: time.Second}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
		}
		return nil
	}
}

// trafficStats counts decisions and keeps recent latencies.
type trafficStats struct {
	allowed, denied, failed atomic.Int64

	mu      sync.Mutex
	samples []sample // recent, oldest first
}

type sample struct {
	at      time.Time
	latency time.Duration
}

// statsSpan is how far back ops/s and p99 look.
const statsSpan = 3 * time.Second

func (s *trafficStats) record(r limiter.CheckResponse, err error, latency time.Duration) {
	switch {
	case err != nil:
		s.failed.Add(1)
	case r.Allowed:
		s.allowed.Add(1)
	default:
		s.denied.Add(1)
	}
	if err != nil {
		return
	}
	now := time.Now()
	s.mu.Lock()
	s.samples = append(s.samples, sample{now, latency})
	drop := 0
	for drop < len(s.samples) && now.Sub(s.samples[drop].at) > statsSpan {
		drop++
	}
	s.samples = s.samples[drop:]
	s.mu.Unlock()
}

// rate returns decisions per second and the p99 latency over statsSpan.
func (s *trafficStats) rate() (opsPerSec float64, p99 time.Duration) {
	now := time.Now()
	s.mu.Lock()
	var lat []time.Duration
	for _, x := range s.samples {
		if now.Sub(x.at) <= statsSpan {
			lat = append(lat, x.latency)
		}
	}
	s.mu.Unlock()
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	return float64(len(lat)) / statsSpan.Seconds(), lat[(len(lat)*99)/100]
}

// workloadKey is one key of the steady traffic and its share of it.
type workloadKey struct {
	Key    string
	Weight int
}

// hotKey is the tenant whose steady traffic exceeds its limit: normally
// throttled, it is what fail-open and stale caches let through.
const hotKey = "tenant:hot"

// blockedKey is the tenant the demo blocks (limit 0) to expose stale caches.
const blockedKey = "tenant:blocked"

// workloadKeys: three calm tenants (about half their limit) and one hot one
// (about 1.5 × its limit).
var workloadKeys = []workloadKey{{"tenant:a", 1}, {"tenant:b", 1}, {"tenant:c", 1}, {hotKey, 3}}

// workload sends steady traffic round-robin over keys and nodes at
// opsPerSec until ctx ends. At most maxInFlight checks run at once; ticks
// beyond that are skipped, so a stalled cluster never piles up requests.
func workload(ctx context.Context, c *client, nodes func() []nodeRef, opsPerSec int, stats *trafficStats) {
	const maxInFlight = 32
	if opsPerSec <= 0 {
		return
	}
	var schedule []string
	for _, k := range workloadKeys {
		for range k.Weight {
			schedule = append(schedule, k.Key)
		}
	}
	sem := make(chan struct{}, maxInFlight)
	t := time.NewTicker(time.Second / time.Duration(opsPerSec))
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ns := nodes()
		if len(ns) == 0 {
			continue
		}
		node, key := ns[i%len(ns)], schedule[i%len(schedule)]
		select {
		case sem <- struct{}{}:
		default:
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			start := time.Now()
			r, err := c.check(rctx, node.Addr, key)
			if ctx.Err() == nil {
				stats.record(r, err, time.Since(start))
			}
		})
	}
}

// burstResult is what one burst achieved.
type burstResult struct {
	Key               string
	Sent              int
	Allowed, Denied   int
	Failed            int
	Sources           map[string]int
	Started, Finished time.Time
}

// burst sends total checks for key at once, spread over nodes, with a
// bounded concurrency; it stops early when ctx ends.
func burst(ctx context.Context, c *client, nodes []nodeRef, key string, total int, stats *trafficStats) burstResult {
	const concurrency = 48
	res := burstResult{Key: key, Sources: map[string]int{}, Started: time.Now()}
	var mu sync.Mutex
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i := 0; i < total && ctx.Err() == nil && len(nodes) > 0; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		node := nodes[i%len(nodes)]
		wg.Go(func() {
			defer func() { <-sem }()
			start := time.Now()
			r, err := c.check(ctx, node.Addr, key)
			stats.record(r, err, time.Since(start))
			mu.Lock()
			defer mu.Unlock()
			res.Sent++
			switch {
			case err != nil:
				res.Failed++
			case r.Allowed:
				res.Allowed++
			default:
				res.Denied++
			}
			if err == nil {
				res.Sources[r.Source]++
			}
		})
	}
	wg.Wait()
	res.Finished = time.Now()
	return res
}

package etcd

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// load is a steady stream of writes and linearizable reads from one real
// etcd client that knows every member, as an application would use it.
type load struct {
	cli     *clientv3.Client
	rate    int           // writes per second
	timeout time.Duration // per request

	mu        sync.Mutex
	samples   []sample // the last loadWindow of results, oldest first
	lastAck   time.Time
	started   time.Time
	writesOK  int64
	writesErr int64
	lastErr   string
	maxRev    int64 // highest revision a linearizable request returned
	revAt     time.Time
	gapWatch  *gapWatch // the fault being measured, if any
}

// loadWindow is how far back success rates and p99 look.
const loadWindow = 2 * time.Second

// sample is one finished request.
type sample struct {
	at      time.Time
	latency time.Duration
	ok      bool
	write   bool
}

// gapWatch measures the longest time without an acknowledged write from
// a moment on (a fault's injection) until stopped.
type gapWatch struct {
	from, until time.Time
	maxGap      time.Duration
}

// run sends requests until ctx ends: one every 1/rate, each on its own,
// as independent callers would (open loop). A request that hangs on a
// frozen member does not hold up the others; at most maxOutstanding are in
// flight, and offers beyond that are dropped, not queued.
func (l *load) run(ctx context.Context) {
	l.mu.Lock()
	l.started = time.Now()
	l.lastAck = l.started
	l.mu.Unlock()
	maxOutstanding := max(8, 2*l.rate*int(l.timeout/time.Second+1))
	slots := make(chan struct{}, maxOutstanding)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(time.Second / time.Duration(max(1, l.rate)))
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			select {
			case slots <- struct{}{}:
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-slots }()
					l.one(ctx, i%3 != 2, i) // two writes, one read
				}()
			default:
			}
		}
	}
}

func (l *load) one(ctx context.Context, write bool, n int) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	start := time.Now()
	var rev int64
	var err error
	key := fmt.Sprintf("demohost/load/%03d", n%100)
	if write {
		var r *clientv3.PutResponse
		r, err = l.cli.Put(ctx, key, start.Format(time.RFC3339Nano))
		if err == nil {
			rev = r.Header.Revision
		}
	} else {
		var r *clientv3.GetResponse
		r, err = l.cli.Get(ctx, key)
		if err == nil {
			rev = r.Header.Revision
		}
	}
	if ctx.Err() != nil && err != nil && context.Cause(ctx) == context.Canceled {
		return // shutting down
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.samples = append(l.samples, sample{at: now, latency: now.Sub(start), ok: err == nil, write: write})
	cut := 0
	for cut < len(l.samples) && now.Sub(l.samples[cut].at) > loadWindow {
		cut++
	}
	l.samples = l.samples[cut:]
	if err == nil && rev > l.maxRev {
		l.maxRev, l.revAt = rev, now
	}
	if !write {
		return
	}
	if err != nil {
		l.writesErr++
		l.lastErr = err.Error()
		return
	}
	l.writesOK++
	if g := l.gapWatch; g != nil && g.until.IsZero() && now.After(g.from) {
		g.maxGap = max(g.maxGap, now.Sub(later(l.lastAck, g.from)))
	}
	l.lastAck = now
}

// loadStats is what the health snapshot shows of the load.
type loadStats struct {
	writesOK, writesErr int64
	writeOKPct          float64 // over loadWindow; 100 with no writes finished
	readOKPct           float64
	writeP99            time.Duration
	sinceAck            time.Duration // since the last acknowledged write
	lastErr             string
	maxRev              int64
	revAt               time.Time
	running             time.Duration
}

func (l *load) stats() loadStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	var st loadStats
	st.writesOK, st.writesErr, st.lastErr = l.writesOK, l.writesErr, l.lastErr
	st.maxRev, st.revAt = l.maxRev, l.revAt
	st.sinceAck = now.Sub(l.lastAck)
	st.running = now.Sub(l.started)
	var lat []time.Duration
	var w, wok, r, rok int
	for _, s := range l.samples {
		if now.Sub(s.at) > loadWindow {
			continue
		}
		if s.write {
			w++
			if s.ok {
				wok++
				lat = append(lat, s.latency)
			}
		} else {
			r++
			if s.ok {
				rok++
			}
		}
	}
	st.writeOKPct, st.readOKPct = pct(wok, w), pct(rok, r)
	if len(lat) > 0 {
		slices.Sort(lat)
		st.writeP99 = lat[(len(lat)*99+99)/100-1]
	}
	return st
}

func pct(ok, n int) float64 {
	if n == 0 {
		return 100
	}
	return 100 * float64(ok) / float64(n)
}

// watchGaps starts measuring write gaps from now.
func (l *load) watchGaps() *gapWatch {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := &gapWatch{from: time.Now()}
	l.gapWatch = g
	return g
}

// endWatch stops g and returns its longest gap, counting a gap still open.
func (l *load) endWatch(g *gapWatch) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if g.until.IsZero() {
		g.until = time.Now()
		g.maxGap = max(g.maxGap, g.until.Sub(later(l.lastAck, g.from)))
	}
	if l.gapWatch == g {
		l.gapWatch = nil
	}
	return g.maxGap
}

// currentGap is g's longest gap so far, counting one still open.
func (l *load) currentGap(g *gapWatch) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !g.until.IsZero() {
		return g.maxGap
	}
	return max(g.maxGap, time.Since(later(l.lastAck, g.from)))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

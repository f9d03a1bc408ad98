package limiter

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// limitCache holds per-key limits for a TTL. A stale entry is the
// config-propagation bug the demo exposes: a limit changed through one node
// reaches the others only when their entry expires.
type limitCache struct {
	rdb     *redis.Client
	ttl     time.Duration
	def     Limit
	metrics *metrics

	mu      sync.Mutex
	entries map[string]cachedLimit
}

type cachedLimit struct {
	Limit
	fetched time.Time
}

func newLimitCache(rdb *redis.Client, ttl time.Duration, def Limit, m *metrics) *limitCache {
	return &limitCache{rdb: rdb, ttl: ttl, def: def, metrics: m, entries: map[string]cachedLimit{}}
}

// get returns the cached limit while fresh, else reads Redis; when Redis
// fails it keeps using a stale entry, or the default.
func (c *limitCache) get(ctx context.Context, key string) Limit {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && time.Since(e.fetched) < c.ttl {
		c.metrics.cache.WithLabelValues("hit").Inc()
		e.Source = "cache"
		return e.Limit
	}
	c.metrics.cache.WithLabelValues("miss").Inc()
	l, err := c.fetch(ctx, key)
	if err != nil {
		if ok {
			e.Source = "cache"
			return e.Limit
		}
		d := c.def
		d.Source = "default"
		return d
	}
	c.put(key, l)
	return l
}

func (c *limitCache) fetch(ctx context.Context, key string) (Limit, error) {
	rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	m, err := c.rdb.HGetAll(rctx, LimitKey(key)).Result()
	if err != nil {
		return Limit{}, err
	}
	if len(m) == 0 {
		d := c.def
		d.Source = "default"
		return d, nil
	}
	limit, err1 := strconv.Atoi(m["limit"])
	window, err2 := strconv.ParseInt(m["window_ms"], 10, 64)
	updated, _ := strconv.ParseInt(m["updated_us"], 10, 64)
	if err := errors.Join(err1, err2); err != nil || window <= 0 {
		d := c.def
		d.Source = "default"
		return d, nil
	}
	return Limit{Limit: limit, WindowMS: window, UpdatedUS: updated, Source: "redis"}, nil
}

func (c *limitCache) put(key string, l Limit) {
	c.mu.Lock()
	c.entries[key] = cachedLimit{Limit: l, fetched: time.Now()}
	c.mu.Unlock()
}

// maxLogPerKey bounds the admissions kept per key.
const maxLogPerKey = 20000

// admissionLog records what one node admitted, per key.
type admissionLog struct {
	retainUS int64

	mu   sync.Mutex
	keys map[string]*keyLog
}

type keyLog struct {
	total, failOpen int64
	times           []int64 // ascending µs (Redis time)
}

func newAdmissionLog(retain time.Duration) *admissionLog {
	return &admissionLog{retainUS: retain.Microseconds(), keys: map[string]*keyLog{}}
}

func (a *admissionLog) add(key string, atUS int64, failOpen bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := a.keys[key]
	if k == nil {
		k = &keyLog{}
		a.keys[key] = k
	}
	k.total++
	if failOpen {
		k.failOpen++
	}
	// Answers arrive out of order by a few µs; keep the slice sorted.
	i := len(k.times)
	for i > 0 && k.times[i-1] > atUS {
		i--
	}
	k.times = append(k.times, 0)
	copy(k.times[i+1:], k.times[i:])
	k.times[i] = atUS
	k.trim(atUS-a.retainUS, maxLogPerKey)
}

func (k *keyLog) trim(beforeUS int64, max int) {
	drop := 0
	for drop < len(k.times) && k.times[drop] < beforeUS {
		drop++
	}
	if over := len(k.times) - drop - max; over > 0 {
		drop += over
	}
	if drop > 0 {
		k.times = append(k.times[:0], k.times[drop:]...)
	}
}

func (a *admissionLog) snapshot(nowUS int64) map[string]KeyAdmitted {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]KeyAdmitted, len(a.keys))
	for key, k := range a.keys {
		k.trim(nowUS-a.retainUS, maxLogPerKey)
		out[key] = KeyAdmitted{Total: k.total, FailOpen: k.failOpen, TimesUS: append([]int64(nil), k.times...)}
	}
	return out
}

// localWindows is the fail policy "local": a sliding window per key kept by
// this node alone, so a cluster of N nodes admits up to N × limit.
type localWindows struct {
	mu   sync.Mutex
	keys map[string][]int64
}

func newLocalWindows() *localWindows { return &localWindows{keys: map[string][]int64{}} }

func (l *localWindows) admit(key string, nowUS, windowUS int64, limit int) (bool, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	times := l.keys[key]
	drop := 0
	for drop < len(times) && times[drop] <= nowUS-windowUS {
		drop++
	}
	times = times[drop:]
	if len(times) >= limit {
		l.keys[key] = times
		return false, int64(len(times))
	}
	l.keys[key] = append(times, nowUS)
	return true, int64(len(times) + 1)
}

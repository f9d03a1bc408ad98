package limiter

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the node's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg         *prometheus.Registry
	decisions   *prometheus.CounterVec
	latency     prometheus.Histogram
	redisErrors prometheus.Counter
	cache       *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ratelimiter_decisions_total",
			Help: "Decisions by result (allowed, denied) and source (redis, fail_open, fail_closed, local, limit_zero).",
		}, []string{"result", "source"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ratelimiter_decision_seconds",
			Help:    "Time to decide one check.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ratelimiter_redis_errors_total",
			Help: "Redis calls that failed or timed out while deciding.",
		}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ratelimiter_limit_cache_total",
			Help: "Limit cache lookups by outcome (hit, miss).",
		}, []string{"outcome"}),
	}
	m.reg.MustRegister(m.decisions, m.latency, m.redisErrors, m.cache,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(r CheckResponse, took time.Duration) {
	result := "denied"
	if r.Allowed {
		result = "allowed"
	}
	m.decisions.WithLabelValues(result, r.Source).Inc()
	m.latency.Observe(took.Seconds())
}

package ratelimiter

import "testing"

func TestMaxInWindow(t *testing.T) {
	for _, tc := range []struct {
		times  []int64
		window int64
		want   int
	}{
		{nil, 10, 0},
		{[]int64{1, 2, 3}, 10, 3},
		{[]int64{0, 10, 20}, 10, 1}, // (t-10, t]: 0 is out when t = 10
		{[]int64{0, 9, 10, 11, 30}, 10, 3},
	} {
		if got := maxInWindow(tc.times, tc.window); got != tc.want {
			t.Errorf("maxInWindow(%v, %d) = %d, want %d", tc.times, tc.window, got, tc.want)
		}
	}
}

func TestAuditKey(t *testing.T) {
	const now, span, window = 100_000, 30_000, 10_000
	prev := keyAudit{Limit: 3, WindowUS: window}
	healthy := &redisView{Count: 3, Limit: 3, WindowUS: window}

	// Three admissions in one window, all recorded by Redis: nothing wrong.
	a := auditKey(prev, []int64{95_000, 91_000, 99_000}, healthy, now, span)
	if a.MaxWindow != 3 || a.InWindow != 3 || a.Drift != 0 || !a.DriftKnown || a.Ghost != 0 {
		t.Fatalf("healthy: %+v", a)
	}

	// Five in one window, Redis recorded three: over the limit by 2, drift 2.
	a = auditKey(prev, []int64{91_000, 92_000, 93_000, 94_000, 95_000}, healthy, now, span)
	if a.MaxWindow != 5 || a.Drift != 2 {
		t.Fatalf("fail-open admissions: %+v", a)
	}

	// Redis silent: the limits stay as they were, drift is unknown.
	a = auditKey(prev, []int64{91_000, 92_000, 93_000, 94_000}, nil, now, span)
	if a.Limit != 3 || a.DriftKnown || a.MaxWindow != 4 {
		t.Fatalf("redis silent: %+v", a)
	}

	// Limit set to 0 at 90ms: the two admissions after it are ghosts, the
	// one before is not.
	blocked := &redisView{Count: 3, Limit: 0, WindowUS: window, UpdatedUS: 90_000}
	a = auditKey(prev, []int64{85_000, 92_000, 97_000}, blocked, now, span)
	if a.Ghost != 2 || a.Limit != 0 {
		t.Fatalf("blocked key: %+v", a)
	}

	// Admissions older than the span no longer count.
	a = auditKey(prev, []int64{10_000, 11_000, 12_000, 13_000}, &redisView{Limit: 3, WindowUS: window}, now, span)
	if a.MaxWindow != 0 || a.Drift != 0 {
		t.Fatalf("old admissions: %+v", a)
	}
}

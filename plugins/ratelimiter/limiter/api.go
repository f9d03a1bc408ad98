package limiter

// The JSON shapes of a node's HTTP API (see README.md, "rate limiter").

// CheckRequest is the body of POST /check.
type CheckRequest struct {
	Key string `json:"key"`
}

// Sources of a decision.
const (
	SourceRedis      = "redis"       // the Lua script decided
	SourceFailOpen   = "fail_open"   // Redis failed; policy open admitted
	SourceFailClosed = "fail_closed" // Redis failed; policy closed denied
	SourceLocal      = "local"       // Redis failed; the node's own window decided
	SourceLimitZero  = "limit_zero"  // the (cached) limit is 0: denied without Redis
)

// CheckResponse is the answer of POST /check: 200 when allowed, 429 when
// denied.
type CheckResponse struct {
	Allowed    bool    `json:"allowed"`
	Count      int64   `json:"count"`     // admissions in the window, as the decider saw it
	Remaining  int64   `json:"remaining"` // admissions left in the window
	RetryAfter float64 `json:"retry_after"`
	Limit      int     `json:"limit"`
	Source     string  `json:"source"`
	Node       string  `json:"node"`
}

// Limit is a key's limit, the body of PUT /api/limits/{key} and the answer
// of GET /api/limits/{key}.
type Limit struct {
	Limit    int   `json:"limit"`
	WindowMS int64 `json:"window_ms"`
	// UpdatedUS is the Redis time of the last change (0: never set, the
	// node's default applies).
	UpdatedUS int64 `json:"updated_us,omitempty"`
	// Source says where the node got it: cache, redis or default (GET only).
	Source string `json:"source,omitempty"`
}

// NodeInfo is one entry of GET /api/nodes.
type NodeInfo struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	LastSeen int64  `json:"last_seen_us"` // Redis time of its last heartbeat
}

// Health is the answer of GET /health. A node answers 200 while it serves,
// even with Redis down (then Redis holds the error).
type Health struct {
	Node       string `json:"node"`
	Redis      string `json:"redis"` // "ok" or the last error
	FailPolicy string `json:"fail_policy"`
	// PID is the node's process, so whoever started it can tell that the
	// process answering on its port is that one.
	PID int `json:"pid"`
}

// Admitted is the answer of GET /api/admitted: what this node admitted,
// per key, so over-admission and drift can be measured from outside.
type Admitted struct {
	Node string `json:"node"`
	// NowUS is the node's estimate of Redis time when it answered.
	NowUS int64                  `json:"now_us"`
	Keys  map[string]KeyAdmitted `json:"keys"`
}

// KeyAdmitted is one key's admissions on one node.
type KeyAdmitted struct {
	Total    int64 `json:"total"`     // since the node started
	FailOpen int64 `json:"fail_open"` // of which admitted without Redis
	// TimesUS are the admissions of the retained span, in Redis time (µs):
	// the script's own TIME when Redis decided, the node's estimate of it
	// otherwise.
	TimesUS []int64 `json:"times_us"`
}

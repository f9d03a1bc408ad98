// Package limiter is the system under demo: a stateless HTTP rate-limiter
// node. Any number of nodes share one Redis; a sliding-window limit per key
// is enforced atomically by one Lua script that takes the time from Redis
// (TIME), never from the nodes' clocks.
package limiter

import (
	"github.com/redis/go-redis/v9"
)

// CheckScriptSource is the sliding-window check. Each key's admissions live
// in a sorted set scored by Redis time in microseconds; entries older than
// the window no longer count, and entries are kept for `retain` so that the
// admissions can be audited against the nodes' own counts.
//
//	KEYS[1]  the key's admission log (sorted set)
//	ARGV[1]  limit   ARGV[2] window (µs)   ARGV[3] retain (µs, ≥ window)
//	ARGV[4]  member (unique per decision)
//
// It returns {allowed 0|1, count, remaining, retry_after µs, now µs}.
// Scores go through string.format('%.0f') because Lua turns large numbers
// into strings with 14 significant digits, and µs timestamps have 16.
const CheckScriptSource = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local retain = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - retain))
local since = '(' .. string.format('%.0f', now - window)
local count = redis.call('ZCOUNT', KEYS[1], since, '+inf')
if count < limit then
  redis.call('ZADD', KEYS[1], string.format('%.0f', now), ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(retain / 1000))
  return {1, count + 1, limit - count - 1, 0, now}
end
local retry = 0
local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], since, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
if oldest[2] then retry = tonumber(oldest[2]) + window - now end
return {0, count, 0, retry, now}
`

// setLimitSource stores a key's limit with the Redis time of the change.
//
//	KEYS[1] the key's limit hash   ARGV[1] limit   ARGV[2] window (ms)
const setLimitSource = `
local t = redis.call('TIME')
local now = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
redis.call('HSET', KEYS[1], 'limit', ARGV[1], 'window_ms', ARGV[2], 'updated_us', now)
return now
`

// heartbeatSource records that a node is alive, at Redis time.
//
//	KEYS[1] nodes hash   ARGV[1] node id   ARGV[2] address
const heartbeatSource = `
local t = redis.call('TIME')
local now = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. now)
return now
`

var (
	checkScript     = redis.NewScript(CheckScriptSource)
	setLimitScript  = redis.NewScript(setLimitSource)
	heartbeatScript = redis.NewScript(heartbeatSource)
)

// Redis key names.
const (
	nodesKey = "rl:nodes"
)

// LogKey is the sorted set of admissions for key.
func LogKey(key string) string { return "rl:log:" + key }

// LimitKey is the hash holding key's configured limit.
func LimitKey(key string) string { return "rl:limit:" + key }

// Decision is the script's answer.
type Decision struct {
	Allowed      bool
	Count        int64 // admissions in the window, this one included
	Remaining    int64
	RetryAfterUS int64
	NowUS        int64 // Redis time of the decision
}

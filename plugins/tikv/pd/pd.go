// Package pd is a small client for the parts of PD's HTTP API
// (/pd/api/v1/...) the TiKV subject watches: stores, health, members and
// the region checks. The types follow the JSON PD emits: ids are numbers,
// zero fields are omitted, capacities are strings such as "58.42GiB" and
// last_heartbeat is unix nanoseconds.
package pd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Store states as PD names them in state_name.
const (
	StateUp           = "Up"
	StateDisconnected = "Disconnected" // no heartbeat for 20 s (still state 0 in PD)
	StateDown         = "Down"         // no heartbeat for max-store-down-time (30 min)
	StateOffline      = "Offline"
	StateTombstone    = "Tombstone"
)

// Stores is the answer of GET /pd/api/v1/stores.
type Stores struct {
	Count  int         `json:"count"`
	Stores []StoreInfo `json:"stores"`
}

// StoreInfo is one entry of Stores.
type StoreInfo struct {
	Store  Store       `json:"store"`
	Status StoreStatus `json:"status"`
}

// Store is the store's metadata as PD keeps it.
type Store struct {
	ID             uint64       `json:"id"`
	Address        string       `json:"address"`
	Labels         []StoreLabel `json:"labels,omitempty"`
	Version        string       `json:"version,omitempty"`
	PeerAddress    string       `json:"peer_address,omitempty"`
	StatusAddress  string       `json:"status_address,omitempty"`
	GitHash        string       `json:"git_hash,omitempty"`
	StartTimestamp int64        `json:"start_timestamp,omitempty"`
	DeployPath     string       `json:"deploy_path,omitempty"`
	// LastHeartbeat is unix nanoseconds.
	LastHeartbeat int64  `json:"last_heartbeat,omitempty"`
	State         int    `json:"state,omitempty"` // 0 Up (omitted), 1 Offline, 2 Tombstone
	StateName     string `json:"state_name"`
}

// StoreLabel is a store's key/value label.
type StoreLabel struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// StoreStatus is what the store reported in its last heartbeat.
type StoreStatus struct {
	Capacity        string    `json:"capacity,omitempty"`
	Available       string    `json:"available,omitempty"`
	UsedSize        string    `json:"used_size,omitempty"`
	LeaderCount     int       `json:"leader_count,omitempty"`
	LeaderWeight    float64   `json:"leader_weight,omitempty"`
	LeaderScore     float64   `json:"leader_score,omitempty"`
	LeaderSize      int64     `json:"leader_size,omitempty"`
	RegionCount     int       `json:"region_count,omitempty"`
	RegionWeight    float64   `json:"region_weight,omitempty"`
	RegionScore     float64   `json:"region_score,omitempty"`
	RegionSize      int64     `json:"region_size,omitempty"`
	SlowScore       float64   `json:"slow_score,omitempty"`
	StartTS         time.Time `json:"start_ts,omitzero"`
	LastHeartbeatTS time.Time `json:"last_heartbeat_ts,omitzero"`
	Uptime          string    `json:"uptime,omitempty"`
}

// Heartbeat is the time of the store's last heartbeat (zero if never).
func (s Store) Heartbeat() time.Time {
	if s.LastHeartbeat == 0 {
		return time.Time{}
	}
	return time.Unix(0, s.LastHeartbeat)
}

// Up reports whether PD considers the store up.
func (s Store) Up() bool { return s.StateName == StateUp }

// Member is one PD member, as in /health and /members.
type Member struct {
	Name          string   `json:"name"`
	MemberID      uint64   `json:"member_id"`
	PeerURLs      []string `json:"peer_urls,omitempty"`
	ClientURLs    []string `json:"client_urls,omitempty"`
	BinaryVersion string   `json:"binary_version,omitempty"`
	GitHash       string   `json:"git_hash,omitempty"`
	DeployPath    string   `json:"deploy_path,omitempty"`
	// Health is set only in /health answers.
	Health bool `json:"health,omitempty"`
}

// Members is the answer of GET /pd/api/v1/members.
type Members struct {
	Header struct {
		ClusterID uint64 `json:"cluster_id"`
	} `json:"header"`
	Members    []Member `json:"members"`
	Leader     *Member  `json:"leader,omitempty"`
	EtcdLeader *Member  `json:"etcd_leader,omitempty"`
}

// Peer is one replica of a region.
type Peer struct {
	ID        uint64 `json:"id"`
	StoreID   uint64 `json:"store_id"`
	Role      int    `json:"role,omitempty"`
	RoleName  string `json:"role_name,omitempty"`
	IsLearner bool   `json:"is_learner,omitempty"`
}

// DownPeer is a replica that has not answered its leader for DownSeconds.
type DownPeer struct {
	Peer        Peer   `json:"peer"`
	DownSeconds uint64 `json:"down_seconds,omitempty"`
}

// Region is one region as the region endpoints emit it.
type Region struct {
	ID       uint64 `json:"id"`
	StartKey string `json:"start_key"`
	EndKey   string `json:"end_key"`
	Epoch    struct {
		ConfVer uint64 `json:"conf_ver,omitempty"`
		Version uint64 `json:"version,omitempty"`
	} `json:"epoch"`
	Peers           []Peer     `json:"peers,omitempty"`
	Leader          *Peer      `json:"leader,omitempty"`
	DownPeers       []DownPeer `json:"down_peers,omitempty"`
	PendingPeers    []Peer     `json:"pending_peers,omitempty"`
	ApproximateSize int64      `json:"approximate_size,omitempty"`
	ApproximateKeys int64      `json:"approximate_keys,omitempty"`
}

// Regions is the answer of the region-list endpoints, such as
// /pd/api/v1/regions/check/miss-peer.
type Regions struct {
	Count   int      `json:"count"`
	Regions []Region `json:"regions"`
}

// Client talks to one PD's HTTP API.
type Client struct {
	base string
	http *http.Client
}

// NewClient returns a client for the PD at addr ("127.0.0.1:2379" or a
// full http:// URL). timeout bounds every request.
func NewClient(addr string, timeout time.Duration) *Client {
	base := strings.TrimRight(addr, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &Client{base: base, http: &http.Client{Timeout: timeout}}
}

// Address is the PD base URL.
func (c *Client) Address() string { return c.base }

// Stores lists every store.
func (c *Client) Stores(ctx context.Context) (*Stores, error) {
	var s Stores
	return &s, c.get(ctx, "/pd/api/v1/stores", &s)
}

// Health lists the PD members with their health.
func (c *Client) Health(ctx context.Context) ([]Member, error) {
	var m []Member
	return m, c.get(ctx, "/pd/api/v1/health", &m)
}

// Members lists the PD members and the leader.
func (c *Client) Members(ctx context.Context) (*Members, error) {
	var m Members
	return &m, c.get(ctx, "/pd/api/v1/members", &m)
}

// MissPeerRegions lists regions with fewer replicas than configured.
func (c *Client) MissPeerRegions(ctx context.Context) (*Regions, error) {
	var r Regions
	return &r, c.get(ctx, "/pd/api/v1/regions/check/miss-peer", &r)
}

// DownPeerRegions lists regions with a replica that stopped answering.
func (c *Client) DownPeerRegions(ctx context.Context) (*Regions, error) {
	var r Regions
	return &r, c.get(ctx, "/pd/api/v1/regions/check/down-peer", &r)
}

func (c *Client) get(ctx context.Context, path string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return fmt.Errorf("pd %s: %w", path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("pd %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("pd %s: read: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pd %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("pd %s: decode: %w", path, err)
	}
	return nil
}

// ParseSize reads a PD size string such as "58.42GiB", "512MiB", "0B" or
// "1.5TiB" into bytes.
func ParseSize(s string) (float64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{
		{"EiB", 1 << 60}, {"PiB", 1 << 50}, {"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
		{"EB", 1e18}, {"PB", 1e15}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}, {"KB", 1e3}, {"B", 1},
	}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			var v float64
			if _, err := fmt.Sscanf(strings.TrimSpace(num), "%g", &v); err != nil {
				return 0, fmt.Errorf("size %q: %w", s, err)
			}
			return v * u.mult, nil
		}
	}
	return 0, fmt.Errorf("size %q: want a number with a unit such as 58.42GiB", s)
}

package pd

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// recordedPD serves testdata files at the PD paths they were recorded from.
func recordedPD(t *testing.T, files map[string]string) *Client {
	t.Helper()
	mux := http.NewServeMux()
	for path, file := range files {
		body, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=UTF-8")
			_, _ = w.Write(body)
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return NewClient(srv.URL, 2*time.Second)
}

func TestStoresFromRecordedPD(t *testing.T) {
	c := recordedPD(t, map[string]string{"/pd/api/v1/stores": "stores.json"})
	got, err := c.Stores(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Count != 3 || len(got.Stores) != 3 {
		t.Fatalf("count %d, %d stores; want 3", got.Count, len(got.Stores))
	}
	up, disc, off := got.Stores[0], got.Stores[1], got.Stores[2]

	if up.Store.ID != 1 || up.Store.Address != "tikv0:20160" || up.Store.StatusAddress != "tikv0:20180" {
		t.Fatalf("store 1 = %+v", up.Store)
	}
	if !up.Store.Up() || up.Store.State != 0 {
		t.Fatalf("store 1: state %d %q; want Up with the omitted state 0", up.Store.State, up.Store.StateName)
	}
	if want := time.Unix(0, 1764240123456789012); !up.Store.Heartbeat().Equal(want) {
		t.Fatalf("last_heartbeat = %v, want %v (unix nanoseconds)", up.Store.Heartbeat(), want)
	}
	if up.Status.LeaderCount != 7 || up.Status.RegionCount != 21 || up.Status.Capacity != "58.42GiB" {
		t.Fatalf("store 1 status = %+v", up.Status)
	}

	if disc.Store.StateName != StateDisconnected || disc.Store.Up() || disc.Store.State != 0 {
		t.Fatalf("store 4 = %q state %d; want Disconnected (state stays 0)", disc.Store.StateName, disc.Store.State)
	}
	if off.Store.StateName != StateOffline || off.Store.State != 1 {
		t.Fatalf("store 5 = %q state %d; want Offline, state 1", off.Store.StateName, off.Store.State)
	}
	if off.Status.LeaderCount != 0 || off.Status.RegionCount != 21 {
		t.Fatalf("store 5: omitted leader_count should read as 0, got %+v", off.Status)
	}
	if len(off.Store.Labels) != 1 || off.Store.Labels[0] != (StoreLabel{Key: "zone", Value: "z3"}) {
		t.Fatalf("store 5 labels = %+v", off.Store.Labels)
	}
	if off.Store.PeerAddress != "" {
		t.Fatalf("an omitted peer_address should read as empty, got %q", off.Store.PeerAddress)
	}
}

func TestHealthMembersAndRegionChecks(t *testing.T) {
	c := recordedPD(t, map[string]string{
		"/pd/api/v1/health":                  "health.json",
		"/pd/api/v1/members":                 "members.json",
		"/pd/api/v1/regions/check/miss-peer": "miss-peer.json",
		"/pd/api/v1/regions/check/down-peer": "down-peer.json",
	})
	ctx := context.Background()
	health, err := c.Health(ctx)
	if err != nil || len(health) != 1 || !health[0].Health || health[0].MemberID != 3474484975246189105 {
		t.Fatalf("health = %+v, %v", health, err)
	}
	members, err := c.Members(ctx)
	if err != nil || members.Leader == nil || members.Leader.Name != "pd" || members.Leader.BinaryVersion != "v8.5.1" {
		t.Fatalf("members = %+v, %v", members, err)
	}
	if members.Header.ClusterID != 7441853126512812345 {
		t.Fatalf("cluster id %d lost precision", members.Header.ClusterID)
	}
	miss, err := c.MissPeerRegions(ctx)
	if err != nil || miss.Count != 1 || len(miss.Regions[0].Peers) != 2 || miss.Regions[0].Peers[0].RoleName != "Voter" {
		t.Fatalf("miss-peer = %+v, %v", miss, err)
	}
	down, err := c.DownPeerRegions(ctx)
	if err != nil || down.Count != 1 {
		t.Fatalf("down-peer = %+v, %v", down, err)
	}
	dp := down.Regions[0].DownPeers
	if len(dp) != 1 || dp[0].Peer.StoreID != 4 || dp[0].DownSeconds != 34 {
		t.Fatalf("down peers = %+v; want store 4 down 34 s", dp)
	}
}

func TestErrorsNameTheEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "[PD:cluster:ErrNotBootstrapped]TiKV cluster not bootstrapped", http.StatusInternalServerError)
	}))
	defer srv.Close()
	_, err := NewClient(srv.URL, time.Second).Stores(context.Background())
	if err == nil || !strings.Contains(err.Error(), "/pd/api/v1/stores") || !strings.Contains(err.Error(), "not bootstrapped") {
		t.Fatalf("err = %v; want the path and PD's message", err)
	}
	_, err = NewClient("127.0.0.1:1", time.Second).Stores(context.Background())
	if err == nil {
		t.Fatal("no error from a closed port")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]float64{
		"58.42GiB": 58.42 * (1 << 30), "0B": 0, "512MiB": 512 << 20, "1.5TiB": 1.5 * (1 << 40), "31.52MiB": 31.52 * (1 << 20),
	} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GiB", "lots", "12"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

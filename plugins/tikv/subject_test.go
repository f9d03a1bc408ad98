package tikv

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/demohost/demohost/sdk"
)

func configured(t *testing.T, values map[string]string) *Subject {
	t.Helper()
	s := New()
	d, err := s.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	opts, err := sdk.ResolveOptions(d.Options, values)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Configure(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSetupWithoutAClusterSaysHowToStartOne(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s := configured(t, map[string]string{"pd": addr})
	err = s.Setup(context.Background(), func(string) {})
	if err == nil {
		t.Fatal("Setup succeeded with no PD")
	}
	msg := err.Error()
	if !strings.Contains(msg, StartHint) || !strings.Contains(msg, addr) || strings.Contains(msg, "\n") {
		t.Fatalf("Setup error %q: want one line naming PD %s and saying `%s`", msg, addr, StartHint)
	}
}

func TestConfigureRejectsBadOptions(t *testing.T) {
	d, _ := New().Describe(context.Background())
	for _, bad := range []map[string]string{
		{"selector": "a=b,=c"},
		{"selector": " "},
		{"probe_interval": "1ms"},
		{"pd": ""},
	} {
		opts, err := sdk.ResolveOptions(d.Options, bad)
		if err != nil {
			continue // refused by type already
		}
		if err := New().Configure(context.Background(), opts); err == nil {
			t.Errorf("Configure(%v) accepted", bad)
		}
	}
	s := configured(t, map[string]string{"selector": "my-project"})
	if _, scope := s.options(); scope.String() != "com.docker.compose.project=my-project" {
		t.Fatalf("a bare selector should be a compose project, got %s", scope)
	}
}

// TestHealthFromRecordedPD builds a snapshot from recorded PD answers
// alone (no Docker, no probe): one store Up, one Disconnected, one Offline,
// one region missing a peer and one with a down peer.
func TestHealthFromRecordedPD(t *testing.T) {
	mux := http.NewServeMux()
	for path, file := range map[string]string{
		"/pd/api/v1/stores": "stores.json", "/pd/api/v1/health": "health.json", "/pd/api/v1/members": "members.json",
		"/pd/api/v1/regions/check/miss-peer": "miss-peer.json", "/pd/api/v1/regions/check/down-peer": "down-peer.json",
	} {
		body, err := os.ReadFile(filepath.Join("pd", "testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) })
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s := configured(t, map[string]string{"pd": srv.URL})

	h, err := s.Health(context.Background())
	if err != nil || h.GetError() != "" {
		t.Fatalf("Health: %v %q", err, h.GetError())
	}
	states := map[string]sdk.NodeState{}
	details := map[string]string{}
	for _, n := range h.GetNodes() {
		states[n.GetId()], details[n.GetId()] = n.GetState(), n.GetDetail()
	}
	want := map[string]sdk.NodeState{"pd-pd": sdk.Up, "store-1": sdk.Unknown, "store-4": sdk.Down, "store-5": sdk.Degraded}
	for id, st := range want {
		if states[id] != st {
			t.Errorf("node %s: %s, want %s (detail %q)", id, states[id], st, details[id])
		}
	}
	if !strings.Contains(details["store-1"], "PD: Up") || !strings.Contains(details["store-1"], "7 leaders, 21 regions") ||
		!strings.Contains(details["store-1"], "capacity 58.42GiB") {
		t.Errorf("store-1 detail %q: want PD's state, counts and capacity", details["store-1"])
	}
	down := map[string]bool{}
	var region string
	for _, v := range h.GetViolations() {
		switch v.GetInvariant() {
		case StoreDown:
			down[v.GetTarget()] = true
		case RegionHealth:
			region = v.GetMessage()
		case PDUnhealthy:
			t.Errorf("pd_unhealthy with a healthy PD: %s", v.GetMessage())
		}
	}
	if !down["store-4"] || !down["store-5"] || down["store-1"] {
		t.Errorf("store_down on %v; want store-4 (Disconnected) and store-5 (Offline) only", down)
	}
	if !strings.Contains(region, "1 regions miss a peer, 1 have a down peer") {
		t.Errorf("region_health message %q", region)
	}
}

func TestPDUnreachableIsAViolationNotAnError(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	h, err := configured(t, map[string]string{"pd": addr}).Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.GetError() == "" {
		t.Error("snapshot has no error while PD is unreachable")
	}
	found := false
	for _, v := range h.GetViolations() {
		found = found || v.GetInvariant() == PDUnhealthy
	}
	if !found {
		t.Errorf("no pd_unhealthy violation: %v", h.GetViolations())
	}
}

func TestConcentration(t *testing.T) {
	if msg := concentration(map[string]int{"tikv0": 12, "tikv1": 12, "tikv2": 0}); !strings.Contains(msg, "tikv0 leads 12 of 24 regions while tikv2 leads 0") {
		t.Errorf("lopsided leaders: %q", msg)
	}
	if msg := concentration(map[string]int{"tikv0": 8, "tikv1": 8, "tikv2": 8}); msg != "" {
		t.Errorf("balanced leaders reported: %q", msg)
	}
	if msg := concentration(map[string]int{"tikv0": 9, "tikv1": 8, "tikv2": 7}); msg != "" {
		t.Errorf("nearly balanced leaders reported: %q", msg)
	}
}

func TestChaptersAreValid(t *testing.T) {
	s := New()
	d, _ := s.Describe(context.Background())
	ch, err := s.Chapters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 8 {
		t.Fatalf("%d chapters, want 8", len(ch))
	}
	if err := sdk.ValidateChapters(ch, d.ChaosTypes); err != nil {
		t.Fatal(err)
	}
}

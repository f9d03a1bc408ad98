package tikv

import (
	"context"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/markup"
)

// configured returns a subject configured as the host does it: every
// option, the defaults with values over them.
func configured(t *testing.T, values map[string]string) *Subject {
	t.Helper()
	s := New()
	if err := s.Configure(context.Background(), sdk.ConfigureRequest{Options: withDefaults(values)}); err != nil {
		t.Fatal(err)
	}
	return s
}

func withDefaults(values map[string]string) sdk.Options {
	d, _ := New().Describe(context.Background())
	opts := sdk.Options{}
	for _, o := range d.Options {
		opts[o.Name] = o.Default
	}
	maps.Copy(opts, values)
	return opts
}

func TestSetupWithoutAClusterSaysHowToStartOne(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s := configured(t, map[string]string{"pd": addr})
	err = s.Setup(context.Background(), sdk.SetupRequest{})
	if err == nil {
		t.Fatal("Setup succeeded with no PD")
	}
	msg := err.Error()
	if !strings.Contains(msg, StartHint) || !strings.Contains(msg, addr) || strings.Contains(msg, "\n") {
		t.Fatalf("Setup error %q: want one line naming PD %s and saying `%s`", msg, addr, StartHint)
	}
}

func TestConfigureRejectsBadOptions(t *testing.T) {
	for _, bad := range []map[string]string{
		{"selector": "a=b,=c"},
		{"selector": " "},
		{"probe_interval": "1ms"},
		{"pd": ""},
	} {
		if err := New().Configure(context.Background(), sdk.ConfigureRequest{Options: withDefaults(bad)}); err == nil {
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
	if err != nil || h.Error != "" {
		t.Fatalf("Health: %v %q", err, h.Error)
	}
	states := map[string]sdk.NodeState{}
	details := map[string]string{}
	for _, n := range h.Nodes {
		states[n.ID], details[n.ID] = n.State, n.Detail
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
	for _, v := range h.Violations {
		switch v.Invariant {
		case StoreDown:
			down[v.Target] = true
		case RegionHealth:
			region = v.Message
		case PDUnhealthy:
			t.Errorf("pd_unhealthy with a healthy PD: %s", v.Message)
		}
	}
	kinds := map[string]sdk.MetricKind{}
	for _, m := range h.Metrics {
		kinds[m.Name] = m.Kind
	}
	if kinds["store_requests"] != sdk.MetricRate || kinds["stores_up_pd"] != sdk.MetricGauge || kinds["regions_miss_peer"] != sdk.MetricGauge {
		t.Errorf("metric kinds %v: want store_requests a rate, stores_up_pd and regions_miss_peer gauges", kinds)
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
	if h.Error == "" {
		t.Error("snapshot has no error while PD is unreachable")
	}
	found := false
	for _, v := range h.Violations {
		found = found || v.Invariant == PDUnhealthy
	}
	if !found {
		t.Errorf("no pd_unhealthy violation: %v", h.Violations)
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

// Eight chapters with unique ids and valid markup; the load and aftermath
// chapters carry their actions, and the one fault is the declared
// CONTAINER_KILL, aimed at the target_store option.
func TestChaptersCarryTheirActionsAndTheDeclaredFault(t *testing.T) {
	s := configured(t, map[string]string{"target_store": "tikv1"})
	d, _ := s.Describe(context.Background())
	if len(d.Faults) != 1 || d.Faults[0].Kind != sdk.ContainerKill || len(d.Faults[0].Params) != 0 {
		t.Fatalf("declared faults %+v, want CONTAINER_KILL without parameters", d.Faults)
	}
	cs, err := s.Chapters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 8 {
		t.Fatalf("%d chapters, want 8", len(cs))
	}
	ids := map[string]bool{}
	var actions, faults []string
	for _, c := range cs {
		if c.ID == "" || ids[c.ID] {
			t.Errorf("chapter %q: id %q empty or twice", c.Title, c.ID)
		}
		ids[c.ID] = true
		if err := markup.Check(c.Narration); err != nil {
			t.Errorf("chapter %q: %v", c.Title, err)
		}
		if c.Action != nil {
			actions = append(actions, c.ID)
		}
		if c.Fault != nil {
			faults = append(faults, c.ID+":"+c.Fault.Kind+"@"+c.Fault.Target)
		}
	}
	if got := strings.Join(actions, " "); got != "load aftermath" {
		t.Errorf("chapters with an action: %s, want load aftermath", got)
	}
	if got := strings.Join(faults, " "); got != "kill:CONTAINER_KILL@tikv1" {
		t.Errorf("faults: %s, want kill:CONTAINER_KILL@tikv1", got)
	}
}

// Without a killed store the aftermath action has nothing to follow and
// says so as a warning, without failing its chapter.
func TestAftermathWithoutAKillWarns(t *testing.T) {
	s := configured(t, nil)
	cs, _ := s.Chapters(context.Background())
	var lines []string
	status := sdk.NewProgress(func(sev sdk.Severity, msg string) { lines = append(lines, sev.String()+" "+msg) })
	if err := cs[5].Action(context.Background(), status); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lines, "\n"); got != "WARNING no store was killed in this run; nothing to follow" {
		t.Fatalf("status lines: %q", got)
	}
}

package storeprobe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseTiKVMetrics(t *testing.T) {
	f, err := os.Open("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	if m != (Metrics{Leaders: 7, Regions: 21, Requests: 2000}) {
		t.Fatalf("Parse = %+v; want 7 leaders, 21 regions, 1544+456 requests", m)
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	if _, err := Parse(strings.NewReader("tikv_raftstore_region_count{type=\"leader\" 7\n")); err == nil {
		t.Fatal("malformed exposition accepted")
	}
}

func TestStatusAndScrape(t *testing.T) {
	body, err := os.ReadFile("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/status":
			w.WriteHeader(http.StatusOK)
		case "/metrics":
			_, _ = w.Write(body)
		default:
			http.NotFound(w, r)
		}
	}))
	addr := strings.TrimPrefix(srv.URL, "http://")
	p := New(500 * time.Millisecond)
	ctx := context.Background()
	if err := p.Status(ctx, addr); err != nil {
		t.Fatalf("a live store: %v", err)
	}
	if m, err := p.Scrape(ctx, addr); err != nil || m.Leaders != 7 {
		t.Fatalf("Scrape = %+v, %v", m, err)
	}
	srv.Close()
	if err := p.Status(ctx, addr); err == nil {
		t.Fatal("a closed store still reads as up")
	}
}

func TestStatusGivesUpOnAHungStore(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = New(200*time.Millisecond).Status(context.Background(), ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Fatalf("a store that never answers: err = %v; want a timeout", err)
	}
}

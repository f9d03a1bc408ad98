// Package storeprobe asks a TiKV store directly how it is: /status on its
// status port (20180) answers within milliseconds while the store lives,
// long before PD notices a missing heartbeat, and /metrics carries its
// leader and region counts and request counters in Prometheus text.
package storeprobe

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metric names TiKV exports (and the fixture store mimics).
const (
	// RegionCountMetric is a gauge with type="region" and type="leader".
	RegionCountMetric = "tikv_raftstore_region_count"
	// GRPCMessageMetric is a histogram of gRPC requests by type
	// (raw_get, raw_put, kv_get, …); its sample count counts requests.
	GRPCMessageMetric = "tikv_grpc_msg_duration_seconds"
)

// Prober checks stores over HTTP.
type Prober struct {
	http *http.Client
}

// New returns a Prober whose requests give up after timeout.
func New(timeout time.Duration) *Prober {
	return &Prober{http: &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}}
}

// Status is nil when the store at addr (host:port of its status server)
// answers /status with 200.
func (p *Prober) Status(ctx context.Context, addr string) error {
	resp, err := p.get(ctx, addr, "/status")
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return nil
}

// Metrics is what the subject reads from one store's /metrics.
type Metrics struct {
	Leaders  float64
	Regions  float64
	Requests float64 // cumulative gRPC requests of every type
}

// Scrape reads the store's /metrics.
func (p *Prober) Scrape(ctx context.Context, addr string) (Metrics, error) {
	resp, err := p.get(ctx, addr, "/metrics")
	if err != nil {
		return Metrics{}, err
	}
	defer resp.Body.Close()
	return Parse(resp.Body)
}

// Parse reads TiKV's Prometheus text exposition.
func Parse(r io.Reader) (Metrics, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return Metrics{}, fmt.Errorf("parse store metrics: %w", err)
	}
	var m Metrics
	if f := families[RegionCountMetric]; f != nil {
		for _, s := range f.GetMetric() {
			switch label(s, "type") {
			case "leader":
				m.Leaders += value(s)
			case "region":
				m.Regions += value(s)
			}
		}
	}
	if f := families[GRPCMessageMetric]; f != nil {
		for _, s := range f.GetMetric() {
			m.Requests += float64(s.GetHistogram().GetSampleCount())
		}
	}
	return m, nil
}

func (p *Prober) get(ctx context.Context, addr, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return nil, fmt.Errorf("store %s%s: %w", addr, path, err)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("store %s%s: %w", addr, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("store %s%s: %s", addr, path, resp.Status)
	}
	return resp, nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

package pluginhost

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/demohost/demohost/internal/wire"
)

// Samples per benchmark iteration, so `-benchtime 1x` still measures a
// distribution.
const (
	launchSamples = 10
	rpcSamples    = 2000
)

// BenchmarkLaunchToChapters measures the example plugin from exec to its
// chapter list in hand: Launch (process start, go-plugin handshake with
// automatic mutual TLS, gRPC dial), Describe, Configure, Chapters. It
// reports the median of launchSamples launches per iteration (ms/launch);
// closing the plugin is not timed.
//
// Target: ≤ 50 ms median.
func BenchmarkLaunchToChapters(b *testing.B) {
	var took []time.Duration
	for b.Loop() {
		for range launchSamples {
			start := time.Now()
			p, err := Launch(Config{Path: examplePlugin})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := p.Subject.Describe(ctx); err != nil {
				b.Fatal(err)
			}
			if err := p.Subject.Configure(ctx, nil); err != nil {
				b.Fatal(err)
			}
			chapters, err := p.Subject.Chapters(ctx)
			if err != nil || len(chapters) == 0 {
				b.Fatalf("chapters: %d, %v", len(chapters), err)
			}
			took = append(took, time.Since(start))
			b.StopTimer()
			p.Close()
			b.StartTimer()
		}
	}
	b.ReportMetric(ms(percentile(took, 50)), "ms/launch")
}

// BenchmarkHealthRoundTrip measures one unary GetHealth call of the example
// subject, set up with its 3 nodes, in two ways in the same run: through the
// plugin connection (another process, go-plugin's gRPC over a unix socket
// with mutual TLS) and as a bare gRPC call to an in-process server on a
// unix socket without TLS, serving the snapshot the plugin sent, the floor
// any plugin transport sits on. Both convert the reply to the host's model.
// It
// reports p50 and p99 of rpcSamples calls per iteration (µs-p50, µs-p99).
//
// Target: ≤ 200 µs p50 over the plugin connection.
func BenchmarkHealthRoundTrip(b *testing.B) {
	ctx := context.Background()
	b.Run("plugin", func(b *testing.B) {
		p, err := Launch(Config{Path: examplePlugin})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		if err := p.Subject.Configure(ctx, nil); err != nil {
			b.Fatal(err)
		}
		if err := p.Subject.Setup(ctx, nil); err != nil {
			b.Fatal(err)
		}
		measureRoundTrips(b, func() error { _, err := p.Subject.Health(ctx); return err })
	})
	b.Run("bare-grpc-unix", func(b *testing.B) {
		// The same snapshot the plugin sends, taken from it once.
		p, err := Launch(Config{Path: examplePlugin})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Subject.Configure(ctx, nil); err != nil {
			b.Fatal(err)
		}
		if err := p.Subject.Setup(ctx, nil); err != nil {
			b.Fatal(err)
		}
		snap, err := p.Subject.rpc.GetHealth(ctx, &wire.GetHealthRequest{})
		p.Close()
		if err != nil {
			b.Fatal(err)
		}
		sock := filepath.Join(b.TempDir(), "s.sock")
		lis, err := net.Listen("unix", sock)
		if err != nil {
			b.Fatal(err)
		}
		srv := grpc.NewServer()
		wire.RegisterSubjectServer(srv, healthOnly{snap: snap})
		go func() { _ = srv.Serve(lis) }()
		defer srv.Stop()
		conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		client := NewClient(wire.NewSubjectClient(conn))
		measureRoundTrips(b, func() error { _, err := client.Health(ctx); return err })
	})
}

// healthOnly serves GetHealth with a fixed snapshot, with none of the
// plugin machinery.
type healthOnly struct {
	wire.UnimplementedSubjectServer
	snap *wire.HealthSnapshot
}

func (h healthOnly) GetHealth(context.Context, *wire.GetHealthRequest) (*wire.HealthSnapshot, error) {
	return h.snap, nil
}

func measureRoundTrips(b *testing.B, call func() error) {
	for range 100 { // warm up the connection
		if err := call(); err != nil {
			b.Fatal(err)
		}
	}
	var took []time.Duration
	for b.Loop() {
		for range rpcSamples {
			start := time.Now()
			if err := call(); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
		}
	}
	b.ReportMetric(us(percentile(took, 50)), "µs-p50")
	b.ReportMetric(us(percentile(took, 99)), "µs-p99")
}

// percentile returns the p-th percentile (nearest rank) of d.
func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

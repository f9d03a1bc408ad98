package conform

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/host/subject"
	"github.com/demohost/demohost/internal/wire"
)

// healthInterval is the interval conform asks health streams for.
const healthInterval = 100 * time.Millisecond

// proc is one plugin process conform started.
type proc struct {
	name   string // for the log: "main", "fresh", …
	plugin *pluginhost.Plugin
	client *pluginhost.Client
	wire   wire.SubjectClient
	log    hclog.Logger

	watch   *watcher // nil until watchHealth
	setUp   bool
	stopped bool
}

// launch starts a plugin process and completes the handshake.
func launch(cfg *Config, name string) (*proc, error) {
	log := cfg.Log.Named(name)
	p, err := pluginhost.Launch(pluginhost.Config{Path: cfg.Plugin, SHA256: cfg.SHA256, Env: cfg.PluginEnv, Logger: log, StartTimeout: cfg.StartTimeout})
	if err != nil {
		return nil, err
	}
	log.Info("plugin process started", "pid", p.PID())
	return &proc{name: name, plugin: p, client: p.Subject, wire: p.Subject.Wire(), log: log}, nil
}

// launchConfigured starts a plugin process and configures it with opts.
func launchConfigured(ctx context.Context, cfg *Config, name string, opts map[string]string) (*proc, error) {
	p, err := launch(cfg, name)
	if err != nil {
		return nil, err
	}
	if err := p.client.Configure(ctx, opts); err != nil {
		p.close()
		return nil, fmt.Errorf("Configure: %w", err)
	}
	return p, nil
}

// setup runs Setup, bounded by d, logging its progress lines.
func (p *proc) setup(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	p.setUp = true // even a failed Setup may have started something
	return p.client.Setup(ctx, func(l subject.Line) { p.log.Info("setup: "+l.Message, "severity", l.Severity) })
}

// teardown runs Teardown, bounded by d, logging its progress lines.
func (p *proc) teardown(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := p.client.Teardown(ctx, func(l subject.Line) { p.log.Info("teardown: "+l.Message, "severity", l.Severity) })
	if err == nil {
		p.setUp = false
	}
	return err
}

// watchHealth opens the health stream (once).
func (p *proc) watchHealth() *watcher {
	if p.watch == nil {
		p.watch = startWatch(p.client, healthInterval)
	}
	return p.watch
}

// alive reports whether the process still runs.
func (p *proc) alive() bool {
	_, ended := p.plugin.ExitStatus()
	return !ended && !p.plugin.Exited()
}

// signal sends sig to the plugin process alone (not its group).
func (p *proc) signal(sig syscall.Signal) error {
	return syscall.Kill(p.plugin.PID(), sig)
}

// waitExit waits up to d for the process to end and says how it did.
func (p *proc) waitExit(ctx context.Context, d time.Duration) (pluginhost.Exit, bool) {
	deadline := time.Now().Add(d)
	for {
		if e, ended := p.plugin.ExitStatus(); ended {
			return e, true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return pluginhost.Exit{}, false
		}
		time.Sleep(pollInterval)
	}
}

// close stops the health stream and ends the process (the plugin reverts
// and tears down what it still has on SIGTERM; pluginhost then kills its
// process group).
func (p *proc) close() {
	if p.stopped {
		return
	}
	p.stopped = true
	if p.watch != nil {
		p.watch.stop()
	}
	p.plugin.Close()
}

// pollInterval is how often conform polls a condition.
const pollInterval = 10 * time.Millisecond

// watcher keeps a health stream open and every snapshot it delivered.
type watcher struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	history []subject.Health
	err     error         // how the stream ended; nil while it runs
	changed chan struct{} // closed at the next snapshot or at the end
}

func startWatch(c *pluginhost.Client, interval time.Duration) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}
	go func() {
		defer close(w.done)
		err := c.WatchHealth(ctx, interval, func(h subject.Health) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.history = append(w.history, h)
			w.wake()
		})
		w.mu.Lock()
		defer w.mu.Unlock()
		if err == nil && ctx.Err() == nil {
			err = errors.New("the stream ended")
		}
		if err == nil {
			err = context.Canceled
		}
		w.err = err
		w.wake()
	}()
	return w
}

// wake tells waiters something changed; callers hold w.mu.
func (w *watcher) wake() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// seq is the number of snapshots received so far.
func (w *watcher) seq() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.history)
}

// latest returns the number of snapshots received and the last one.
func (w *watcher) latest() (int, subject.Health) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.history) == 0 {
		return 0, subject.Health{}
	}
	return len(w.history), w.history[len(w.history)-1]
}

// since returns the snapshots after the first n, and how the stream ended
// (nil while it runs).
func (w *watcher) since(n int) ([]subject.Health, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]subject.Health(nil), w.history[min(n, len(w.history)):]...), w.err
}

// await waits up to d for a snapshot, after the first after, that
// satisfies ok. It returns that snapshot, or the last one seen, and
// whether one did.
func (w *watcher) await(ctx context.Context, after int, d time.Duration, ok func(subject.Health) bool) (subject.Health, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	var last subject.Health
	w.mu.Lock()
	if len(w.history) > 0 {
		last = w.history[len(w.history)-1]
	}
	w.mu.Unlock()
	for {
		w.mu.Lock()
		fresh, err, changed := w.history[min(after, len(w.history)):], w.err, w.changed
		after = len(w.history)
		w.mu.Unlock()
		for _, h := range fresh {
			last = h
			if ok(h) {
				return h, true
			}
		}
		if err != nil {
			return last, false
		}
		select {
		case <-changed:
		case <-timer.C:
			return last, false
		case <-ctx.Done():
			return last, false
		}
	}
}

func (w *watcher) stop() {
	w.cancel()
	<-w.done
}

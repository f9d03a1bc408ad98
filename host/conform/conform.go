// Package conform is `demohost conform`: a conformance suite for any subject
// plugin binary, in any language, as csi-sanity is for CSI drivers. It
// starts the plugin as the host would and checks, one line each, the duties
// of docs/PROTOCOL.md that a user would notice broken: the handshake,
// Describe without a cluster, the call order, options refused, a valid
// chapter list, Setup, each declared fault kind injected, seen and reverted,
// handles a fresh process can revert, reverts on SIGTERM and when the host
// is SIGKILLed, Teardown without Setup, and a health stream that survives a
// failing Health.
//
// Conform goes through the plugin's own answers, never the host's checks:
// it calls the wire directly where the host would refuse a request itself.
// Every fault it injects goes through a ledger (docs/ARCHITECTURE.md, "A
// fault") and is reverted before Run returns, whatever the plugin did.
package conform

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/demohost/demohost/host/ledger"
	"github.com/demohost/demohost/host/subject"
)

// Config says which plugin to check and how.
type Config struct {
	// Plugin is the plugin executable (pluginhost.Resolve).
	Plugin string
	// SHA256 pins the executable (hex), "" for none.
	SHA256 string
	// PluginEnv names variables passed to the plugin besides those
	// pluginhost.PluginEnv always passes (--plugin-env NAME).
	PluginEnv []string
	// Set holds the --set options, checked against the plugin's schema.
	Set map[string]string
	// Log receives conform's and the plugins' log lines (default: none).
	Log hclog.Logger
	// LogPath is the log file, passed on to the host conform starts to be
	// SIGKILLed.
	LogPath string
	// ChaosDir is where the chaos logs go (default ledger.DefaultDir()).
	ChaosDir string
	// Self is the demohost executable, started as the host that the "host
	// SIGKILLed" check kills (default: this executable).
	Self string
	// Out receives one line per check as it ends (default: discarded).
	Out io.Writer

	// StartTimeout bounds each handshake (0: pluginhost's default).
	StartTimeout time.Duration
	// SetupTimeout bounds Setup and Teardown (default 5m).
	SetupTimeout time.Duration
	// SteadyWithin is how long health may take to become steady after
	// Setup (default 30s).
	SteadyWithin time.Duration
	// EffectWithin is how long a fault may take to show in health (default
	// 10s).
	EffectWithin time.Duration
	// RecoverWithin is how long health may take to recover after a revert
	// (default 30s).
	RecoverWithin time.Duration
	// CleanupWithin bounds a plugin's exit after SIGTERM (default 25s: the
	// sdk's cleanup timeout and a margin).
	CleanupWithin time.Duration
	// HostKilledWithin bounds a plugin's exit after its host was SIGKILLed
	// (default 2s).
	HostKilledWithin time.Duration
}

// Defaults of Config.
const (
	DefaultSetupTimeout     = 5 * time.Minute
	DefaultSteadyWithin     = 30 * time.Second
	DefaultEffectWithin     = 10 * time.Second
	DefaultRecoverWithin    = 30 * time.Second
	DefaultCleanupWithin    = 25 * time.Second
	DefaultHostKilledWithin = 2 * time.Second
)

func (c *Config) defaults() error {
	if c.Log == nil {
		c.Log = hclog.NewNullLogger()
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.ChaosDir == "" {
		c.ChaosDir = ledger.DefaultDir()
	}
	if c.Self == "" {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the demohost executable: %w", err)
		}
		c.Self = self
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&c.SetupTimeout, DefaultSetupTimeout}, {&c.SteadyWithin, DefaultSteadyWithin},
		{&c.EffectWithin, DefaultEffectWithin}, {&c.RecoverWithin, DefaultRecoverWithin},
		{&c.CleanupWithin, DefaultCleanupWithin}, {&c.HostKilledWithin, DefaultHostKilledWithin},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	return nil
}

// Status is a check's outcome.
type Status string

// Outcomes. A warning is a duty conform could not confirm; only a failure
// fails the suite.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Warn Status = "warn"
	Skip Status = "skip"
)

// Result is one check's outcome and why, for people.
type Result struct {
	Check  string
	Status Status
	Why    string
	Took   time.Duration
}

// Line is the result as conform prints it.
func (r Result) Line() string {
	return fmt.Sprintf("%-4s  %s: %s (%s)", r.Status, r.Check, r.Why, seconds(r.Took))
}

// Report is the outcome of a whole suite.
type Report struct {
	Plugin  string // the executable
	Subject string // as Describe named it ("" if it never answered)
	Version string
	Started time.Time
	Took    time.Duration
	Results []Result
}

// Failed reports whether any check failed.
func (r Report) Failed() bool { return r.count(Fail) > 0 }

func (r Report) count(s Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

// Summary is the closing line.
func (r Report) Summary() string {
	name := r.Subject
	if name == "" {
		name = r.Plugin
	} else if r.Version != "" {
		name += " " + r.Version
	}
	return fmt.Sprintf("conform: %s: %d passed, %d failed, %d warned, %d skipped in %s",
		name, r.count(Pass), r.count(Fail), r.count(Warn), r.count(Skip), seconds(r.Took))
}

// UsageError is bad input (a --set the plugin's schema refuses): nothing
// was checked.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Run checks the plugin and returns what every check found. It reverts
// every fault it injected and ends every process it started before it
// returns, also when ctx ends (the report then says which checks were cut
// short). The error is a *UsageError for bad input, else nil.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.defaults(); err != nil {
		return Report{}, err
	}
	s := &suite{cfg: &cfg, ctx: ctx, report: Report{Plugin: cfg.Plugin, Started: time.Now()},
		effects: map[string][]string{}, recovery: map[string]time.Duration{}}
	defer func() {
		if v := recover(); v != nil {
			s.cleanup() // a bug in conform still reverts what it injected
			panic(v)
		}
	}()
	err := s.run()
	s.cleanup()
	s.report.Took = time.Since(s.report.Started)
	return s.report, err
}

// check is one named step of the suite; it returns its status and why.
type check struct {
	name string
	run  func() (Status, string)
}

// suite is one run of the checks and what they share: the plugin's
// description, the options, the chapters, the process that holds a set-up
// cluster and its steady health, and the faults injected.
type suite struct {
	cfg    *Config
	ctx    context.Context
	report Report

	desc     subject.Description
	opts     map[string]string
	chapters []subject.Chapter
	effects  map[string][]string      // fault kind -> what it did to health
	recovery map[string]time.Duration // fault kind -> how long health took to recover

	first *proc    // the process of the handshake
	main  *proc    // the set-up process the fault checks use (nil: none)
	base  baseline // main's steady health
	procs []*proc  // every process started, to end in cleanup

	ledger *ledger.Ledger
	owner  map[int]*proc // fault record -> the process that injected it
}

// do runs one check, records and prints its result.
func (s *suite) do(c check) Status {
	start := time.Now()
	st, why := Skip, "conform was interrupted"
	if s.ctx.Err() == nil {
		st, why = c.run()
		if s.ctx.Err() != nil && st != Pass {
			st, why = Skip, "conform was interrupted: "+why
		}
	}
	r := Result{Check: c.name, Status: st, Why: oneLine(why), Took: time.Since(start)}
	s.report.Results = append(s.report.Results, r)
	fmt.Fprintln(s.cfg.Out, r.Line())
	s.cfg.Log.Info("check", "check", r.Check, "status", r.Status, "why", r.Why)
	return st
}

// skip records checks that cannot run, with why.
func (s *suite) skip(why string, names ...string) {
	for _, n := range names {
		s.do(check{n, func() (Status, string) { return Skip, why }})
	}
}

// start launches a plugin process and remembers it for cleanup.
func (s *suite) start(name string) (*proc, error) {
	p, err := launch(s.cfg, name)
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, p)
	return p, nil
}

// startConfigured launches a plugin process and configures it.
func (s *suite) startConfigured(name string) (*proc, error) {
	p, err := launchConfigured(s.ctx, s.cfg, name, s.opts)
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, p)
	return p, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// seconds formats a duration for a line: 0.31s, 12.4s.
func seconds(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

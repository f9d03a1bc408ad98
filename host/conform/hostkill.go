package conform

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/demohost/demohost/host/ledger"
	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/host/subject"
	"github.com/demohost/demohost/sdk/process"
)

// HostCommand is the hidden demohost subcommand conform starts as the host
// it SIGKILLs: `demohost conform-host` reads a hostRequest on stdin, runs
// the plugin to a fault and says so on stdout (see Host).
const HostCommand = "conform-host"

// hostRequest is what conform asks of the host it will kill.
type hostRequest struct {
	Plugin       string            `json:"plugin"`
	SHA256       string            `json:"sha256,omitempty"`
	PluginEnv    []string          `json:"plugin_env,omitempty"`
	Options      map[string]string `json:"options"`
	Fault        *subject.Fault    `json:"fault,omitempty"`
	AwaitEffect  bool              `json:"await_effect,omitempty"`
	LogPath      string            `json:"log_path,omitempty"`
	ChaosDir     string            `json:"chaos_dir"`
	StartTimeout time.Duration     `json:"start_timeout,omitempty"`
	SetupTimeout time.Duration     `json:"setup_timeout"`
	SteadyWithin time.Duration     `json:"steady_within"`
	EffectWithin time.Duration     `json:"effect_within"`
}

// hostReady is the host's one line once the fault is active (or Error).
type hostReady struct {
	Plugin process.Identity `json:"plugin"`
	Ledger string           `json:"ledger,omitempty"` // its chaos log
	Active string           `json:"active,omitempty"` // what is active, for a line
	Error  string           `json:"error,omitempty"`
}

// Host is `demohost conform-host`: it launches the plugin as the host
// does, configures it, sets it up, injects the fault through a chaos log
// of its own, and writes one hostReady line on out. It then waits for in
// to close (conform is done with it, or gone) and reverts and ends the
// plugin — unless conform SIGKILLs it first, which is the point.
func Host(in io.Reader, out io.Writer) error {
	r := bufio.NewReader(in)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("%s reads one request line on stdin; it is started by demohost conform", HostCommand)
	}
	var req hostRequest
	if err := json.Unmarshal(line, &req); err != nil {
		return fmt.Errorf("%s: bad request: %w", HostCommand, err)
	}
	ready, cleanup, err := hostUp(req)
	defer cleanup()
	if err != nil {
		ready.Error = err.Error()
	}
	b, _ := json.Marshal(ready)
	if _, werr := fmt.Fprintf(out, "%s\n", b); werr != nil || err != nil {
		return errors.Join(err, werr)
	}
	_, _ = io.Copy(io.Discard, r) // until conform closes our stdin
	return nil
}

// hostUp brings the plugin to an active fault. cleanup reverts it and ends
// the plugin.
func hostUp(req hostRequest) (hostReady, func(), error) {
	cfg := &Config{Plugin: req.Plugin, SHA256: req.SHA256, PluginEnv: req.PluginEnv, StartTimeout: req.StartTimeout}
	var closers []func()
	cleanup := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if req.LogPath != "" {
		log, f, err := pluginhost.OpenLog(req.LogPath)
		if err != nil {
			return hostReady{}, cleanup, err
		}
		cfg.Log = log.Named(HostCommand)
		closers = append(closers, func() { f.Close() })
	}
	if err := cfg.defaults(); err != nil {
		return hostReady{}, cleanup, err
	}
	ctx := context.Background()
	p, err := launchConfigured(ctx, cfg, "killed-host", req.Options)
	if err != nil {
		return hostReady{}, cleanup, err
	}
	closers = append(closers, p.close)
	id, err := process.IdentityOf(p.plugin.PID())
	if err != nil {
		return hostReady{}, cleanup, err
	}
	ready := hostReady{Plugin: id, Active: "no fault active (no fault kind is declared)"}
	if err := p.setup(ctx, req.SetupTimeout); err != nil {
		return ready, cleanup, fmt.Errorf("Setup: %w", err)
	}
	w := p.watchHealth()
	h, _ := w.await(ctx, 0, req.SteadyWithin, steady)
	if req.Fault == nil {
		return ready, cleanup, nil
	}
	l, err := ledger.Open(req.ChaosDir, ledger.Run{Plugin: req.Plugin, SHA256: p.plugin.Identity.SHA256, Owner: p.plugin.Identity.Owner,
		PluginEnv: req.PluginEnv, Options: req.Options, PID: os.Getpid()})
	if err != nil {
		return ready, cleanup, err
	}
	closers = append(closers, func() {
		for _, fid := range l.Unreverted() {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			_, _ = l.Revert(ctx, p.client, fid, ledger.ByExit)
			cancel()
		}
		_ = l.Close()
	})
	ready.Ledger = l.Path()
	seq := w.seq()
	ictx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, rec, err := l.Inject(ictx, p.client, -1, *req.Fault)
	if err != nil {
		return ready, cleanup, fmt.Errorf("InjectChaos(%s): %w", describeFault(*req.Fault), err)
	}
	ready.Active = req.Fault.Kind + " active on " + orAny(rec.Target)
	if req.AwaitEffect {
		base := baselineOf(h)
		w.await(ctx, seq, req.EffectWithin, func(h subject.Health) bool { return len(base.effect(h, rec.Target)) > 0 })
	}
	return ready, cleanup, nil
}

// hostKilled starts a demohost as the plugin's host, has it set the plugin
// up and inject a fault, SIGKILLs that host, and expects the plugin to
// revert, tear down and exit within HostKilledWithin. Conform adopts the
// orphaned plugin (it is a child subreaper) to learn how it ended.
func (s *suite) hostKilled() (Status, string) {
	if err := becomeSubreaper(); err != nil {
		return Skip, "conform cannot adopt the orphaned plugin to watch it (prctl PR_SET_CHILD_SUBREAPER: " + err.Error() + ")"
	}
	// The cluster must be steady first; then, one cluster at a time, the
	// process the earlier checks used goes.
	m, st, why := s.needCluster()
	if m == nil {
		return st, why
	}
	m.close()
	s.main = nil
	req := hostRequest{Plugin: s.cfg.Plugin, SHA256: s.cfg.SHA256, PluginEnv: s.cfg.PluginEnv, Options: s.opts, LogPath: s.cfg.LogPath, ChaosDir: s.cfg.ChaosDir,
		StartTimeout: s.cfg.StartTimeout, SetupTimeout: s.cfg.SetupTimeout, SteadyWithin: s.cfg.SteadyWithin, EffectWithin: s.cfg.EffectWithin}
	if k := s.exitFault(); k != nil {
		f := s.faultFor(*k)
		req.Fault, req.AwaitEffect = &f, len(s.effects[k.Kind]) > 0
	}
	host, ready, err := s.startHost(req)
	if err != nil {
		return Fail, err.Error()
	}
	pid := ready.Plugin.Pid
	kids := descendants(pid)
	killed := time.Now()
	_ = host.Process.Kill()
	_ = host.Wait() // the plugin is ours now
	gone := waitGone(ready.Plugin, s.cfg.HostKilledWithin)
	if !gone { // how long it does take, for the line
		gone = waitGone(ready.Plugin, s.cfg.CleanupWithin)
	}
	took := time.Since(killed)
	var problems []string
	switch {
	case !gone:
		problems = append(problems, fmt.Sprintf("it was still running %s after its host was SIGKILLed (conform killed it): a plugin notices its host is gone (its parent changes; the host also asks the kernel for SIGTERM on its death), reverts, tears down and exits", seconds(took)))
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		waitGone(ready.Plugin, time.Second)
	case took > s.cfg.HostKilledWithin:
		problems = append(problems, fmt.Sprintf("it took more than %s: a plugin notices at once that its host is gone and reverts, tears down and exits within %s", seconds(s.cfg.HostKilledWithin), seconds(s.cfg.HostKilledWithin)))
	}
	exit, known := reapWithin(pid, time.Second)
	left := survivors(kids, 2*time.Second)
	var how *pluginhost.Exit
	what := fmt.Sprintf("ended %s after its host was SIGKILLed with %s", seconds(took), ready.Active)
	if known {
		how = &exit
		what = fmt.Sprintf("%s, %s after its host was SIGKILLed with %s", exit, seconds(took), ready.Active)
	}
	return s.afterExit(what, how, left, problems, func(fresh *proc) error { return s.recoverHostLog(ready.Ledger, fresh) })
}

// startHost starts `demohost conform-host`, sends it req and waits for its
// ready line.
func (s *suite) startHost(req hostRequest) (*exec.Cmd, hostReady, error) {
	cmd := exec.Command(s.cfg.Self, HostCommand)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // it never outlives conform
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, hostReady{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, hostReady{}, err
	}
	cmd.Stderr = s.cfg.Log.Named(HostCommand).StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true})
	if err := cmd.Start(); err != nil {
		return nil, hostReady{}, fmt.Errorf("start %s %s: %w", s.cfg.Self, HostCommand, err)
	}
	fail := func(err error) (*exec.Cmd, hostReady, error) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, hostReady{}, err
	}
	b, _ := json.Marshal(req)
	if _, err := fmt.Fprintf(stdin, "%s\n", b); err != nil {
		return fail(fmt.Errorf("the host conform started (%s %s) did not take its request: %w", s.cfg.Self, HostCommand, err))
	}
	lines := make(chan []byte, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadBytes('\n')
		lines <- line
	}()
	wait := s.cfg.SetupTimeout + s.cfg.SteadyWithin + s.cfg.EffectWithin + time.Minute
	var ready hostReady
	select {
	case line := <-lines:
		if err := json.Unmarshal(line, &ready); err != nil {
			return fail(fmt.Errorf("the host conform started (%s %s) said %q instead of its ready line: is it this demohost?", s.cfg.Self, HostCommand, line))
		}
	case <-time.After(wait):
		return fail(fmt.Errorf("the host conform started did not get the plugin set up with a fault within %s", wait))
	case <-s.ctx.Done():
		return fail(s.ctx.Err())
	}
	if ready.Error != "" {
		return fail(errors.New("the host conform started to be killed could not bring the plugin to a fault: " + ready.Error))
	}
	return cmd, ready, nil
}

// recoverHostLog takes over the chaos log the killed host left and reverts
// what it lists through fresh (the plugin reverted it already, or should
// have: reverting twice is not an error), so no log is left for `demohost
// recover`.
func (s *suite) recoverHostLog(path string, fresh *proc) error {
	if path == "" {
		return nil
	}
	abandoned, err := ledger.FindAbandoned(s.cfg.ChaosDir)
	if err != nil {
		return err
	}
	for _, a := range abandoned {
		if a.File != path {
			continue
		}
		l, err := ledger.Resume(a)
		if err != nil {
			return err
		}
		var errs []error
		for _, id := range l.Unreverted() {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			_, err := l.Revert(ctx, fresh.client, id, ledger.ByRecover)
			cancel()
			errs = append(errs, err)
		}
		return errors.Join(append(errs, l.Close())...)
	}
	return nil
}

// waitGone polls until the process of id is gone (or a zombie), up to d.
func waitGone(id process.Identity, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for id.Alive() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
	return true
}

// reapWithin reaps an adopted child that has ended, trying for up to d
// (it becomes ours a moment after its parent dies).
func reapWithin(pid int, d time.Duration) (pluginhost.Exit, bool) {
	deadline := time.Now().Add(d)
	for {
		if e, ok := reap(pid); ok {
			return e, true
		}
		if time.Now().After(deadline) {
			return pluginhost.Exit{}, false
		}
		time.Sleep(pollInterval)
	}
}

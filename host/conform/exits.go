package conform

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/demohost/demohost/host/ledger"
	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/host/subject"
)

// The health-stream check waits for streamSnapshots snapshots, up to
// streamWithin (a loaded machine may be slow; the plugin is asked for one
// every healthInterval).
const (
	streamSnapshots = 5
	streamWithin    = 5 * time.Second
)

// freshProcessChecks run in one fresh process that is configured and never
// set up: the health stream before Setup, then Teardown without Setup.
func (s *suite) freshProcessChecks() {
	var fresh *proc
	var startErr error
	get := func() (*proc, error) {
		if fresh == nil && startErr == nil {
			fresh, startErr = s.startConfigured("fresh")
		}
		return fresh, startErr
	}
	s.do(check{CheckHealthStream, func() (Status, string) {
		p, err := get()
		if err != nil {
			return Fail, "could not start a fresh plugin process: " + err.Error()
		}
		return s.healthStream(p)
	}})
	s.do(check{CheckFreshTeardown, func() (Status, string) {
		p, err := get()
		if err != nil {
			return Fail, "could not start a fresh plugin process: " + err.Error()
		}
		return s.freshTeardown(p)
	}})
	if fresh != nil {
		fresh.close()
	}
}

// healthStream opens a health stream before Setup, where Health commonly
// fails, and expects it to keep sending.
func (s *suite) healthStream(p *proc) (Status, string) {
	w := p.watchHealth()
	start := time.Now()
	deadline := start.Add(streamWithin)
	for w.seq() < streamSnapshots && time.Now().Before(deadline) && s.ctx.Err() == nil {
		if _, err := w.since(0); err != nil {
			break
		}
		time.Sleep(pollInterval)
	}
	took := time.Since(start)
	snaps, err := w.since(0)
	errored, firstErr := 0, ""
	for _, h := range snaps {
		if h.Error != "" {
			if errored == 0 {
				firstErr = h.Error
			}
			errored++
		}
	}
	if err != nil {
		return Fail, fmt.Sprintf("the health stream ended after %s before Setup (%v): WatchHealth must keep sending; a failing Health becomes a snapshot with error set", plural(len(snaps), "snapshot"), err)
	}
	if len(snaps) < streamSnapshots {
		return Fail, fmt.Sprintf("%s in %s at a %s interval: WatchHealth must send a snapshot at least every interval", plural(len(snaps), "snapshot"), seconds(took), healthInterval)
	}
	if errored == 0 {
		return Warn, fmt.Sprintf("kept sending (%s in %s before Setup), but Health did not fail there, so a failing Health was not exercised", plural(len(snaps), "snapshot"), seconds(took))
	}
	return Pass, fmt.Sprintf("kept sending while Health failed before Setup: %s in %s, %d with error %q", plural(len(snaps), "snapshot"), seconds(took), errored, firstErr)
}

// freshTeardown calls Teardown in a process that never ran Setup, as the
// host does after a crash; the cluster of the process still running must
// be left alone.
func (s *suite) freshTeardown(p *proc) (Status, string) {
	m, seq, before := s.main, 0, map[string]bool{}
	if m != nil && m.alive() {
		seq = m.watch.seq()
		_, last := m.watch.latest()
		for _, item := range s.base.harm(last, "") {
			before[item] = true
		}
	} else {
		m = nil
	}
	start := time.Now()
	if err := p.teardown(s.ctx, s.cfg.SetupTimeout); err != nil {
		return Fail, "Teardown in a fresh plugin process that never ran Setup failed: " + err.Error() + "; after a crash the host calls it there to remove what the dead process left"
	}
	took := time.Since(start)
	if m == nil {
		return Pass, fmt.Sprintf("succeeded in %s in a fresh plugin process that never ran Setup", seconds(took))
	}
	if hit := s.disturbed(m, seq, 2*time.Second, before); len(hit) > 0 {
		return Fail, fmt.Sprintf("Teardown in a fresh plugin process disturbed the cluster of another plugin process that is still running: %s; it may remove only what plugin processes that are gone left", list(hit))
	}
	return Pass, fmt.Sprintf("succeeded in %s in a fresh plugin process that never ran Setup, and left the cluster of the plugin process still running alone", seconds(took))
}

// exitFault is the fault kind the exit-path checks leave active: the first
// whose effect showed in health, else the first declared (nil: none).
func (s *suite) exitFault() *subject.FaultKind {
	for i, k := range s.desc.Faults {
		if len(s.effects[k.Kind]) > 0 {
			return &s.desc.Faults[i]
		}
	}
	if len(s.desc.Faults) > 0 {
		return &s.desc.Faults[0]
	}
	return nil
}

// sigterm sends SIGTERM to a set-up plugin with a fault active (the
// exit-path fault; its effect awaited when it showed before).
func (s *suite) sigterm() (Status, string) {
	var in *injection
	active := "no fault active (no fault kind is declared)"
	if k := s.exitFault(); k != nil {
		var st Status
		var why string
		if in, st, why = s.injectKind(*k, len(s.effects[k.Kind]) > 0); in == nil {
			return st, why
		}
		active = k.Kind + " active on " + orAny(in.rec.Target)
	} else if m, st, why := s.needCluster(); m == nil {
		return st, why
	}
	m := s.main
	kids := descendants(m.plugin.PID())
	sent := time.Now()
	if err := m.signal(syscall.SIGTERM); err != nil {
		return Fail, "could not send SIGTERM: " + err.Error()
	}
	exit, ended := m.waitExit(s.ctx, s.cfg.CleanupWithin)
	took := time.Since(sent)
	s.main = nil
	if !ended {
		_ = m.signal(syscall.SIGKILL)
		m.close()
		return Fail, fmt.Sprintf("still running %s after SIGTERM with %s (conform killed it): on SIGTERM a plugin reverts, tears down and exits", seconds(took), active)
	}
	left := survivors(kids, 2*time.Second) // before close kills its process group
	m.close()
	return s.afterExit(fmt.Sprintf("%s, %s after SIGTERM with %s", exit, seconds(took), active), &exit, left, nil, func(fresh *proc) error {
		if in == nil {
			return nil
		}
		_, err := s.revert(in.id, fresh, ledger.ByCrash)
		return err
	})
}

// afterExit judges what a plugin that ended with a fault active left: how
// it ended (exit nil: unknown), the processes of its still running (left;
// conform kills them), and — in a fresh process, set up — any trace of the
// fault, adding to problems already found. Then revertAgain reverts
// the fault by its handle through that fresh process (the plugin reverted
// it already: reverting twice is not an error). The fresh process becomes
// the one later checks use.
func (s *suite) afterExit(what string, exit *pluginhost.Exit, left []task, problems []string, revertAgain func(*proc) error) (Status, string) {
	if exit != nil && exit.Signal != 0 {
		problems = append(problems, fmt.Sprintf("it was %s: a plugin handles the signal (revert, tear down, then exit) rather than die of it", exit))
	}
	if len(left) > 0 {
		killAll(left)
		problems = append(problems, fmt.Sprintf("it left %s running (conform killed them): a plugin's processes end with it", tasks(left)))
	}
	fresh, h, err := s.setUpFresh("main")
	switch {
	case err != nil:
		problems = append(problems, "a fresh Setup afterwards failed: "+err.Error())
	case len(s.base.harm(h, "")) > 0:
		problems = append(problems, fmt.Sprintf("a fresh plugin process, once set up, still shows %s after %s: the fault was not reverted", list(s.base.harm(h, "")), s.cfg.RecoverWithin))
	}
	if fresh != nil {
		s.main = fresh
	}
	if fresh != nil {
		if err := revertAgain(fresh); err != nil {
			problems = append(problems, "reverting its handle again from a fresh process failed ("+err.Error()+"): reverting twice is not an error")
		}
	}
	if len(problems) > 0 {
		return Fail, what + "; " + strings.Join(problems, "; ")
	}
	why := what + "; no process of it left; a fresh plugin process sets up with no trace of the fault"
	if exit != nil && exit.Code != 0 {
		return Warn, why + fmt.Sprintf("; but it exited with code %d: its cleanup may have failed (its stderr is in the log)", exit.Code)
	}
	return Pass, why
}

// teardown tears down the set-up process, or the first one if Setup
// failed, and ends it.
func (s *suite) teardown() (Status, string) {
	p, after := s.main, "after Setup"
	if p == nil && s.first != nil && !s.first.stopped {
		p, after = s.first, "after a failed Setup"
	}
	if p == nil || !p.alive() {
		return Skip, "no plugin process that ran Setup is left to tear down (an earlier check ended it)"
	}
	start := time.Now()
	err := p.teardown(s.ctx, s.cfg.SetupTimeout)
	took := time.Since(start)
	s.main = nil
	p.close()
	if err != nil {
		return Fail, fmt.Sprintf("Teardown %s failed: %v", after, err)
	}
	return Pass, fmt.Sprintf("Teardown %s succeeded in %s", after, seconds(took))
}

// cleanup reverts every fault still active — through the process that
// injected it, or a fresh one — and ends every process conform started.
func (s *suite) cleanup() {
	if s.ledger != nil {
		for _, id := range s.ledger.Unreverted() {
			p := s.owner[id]
			if p == nil || p.stopped || !p.alive() {
				fresh, err := launchConfigured(context.Background(), s.cfg, "cleanup", s.opts)
				if err != nil {
					s.cfg.Log.Error("could not start a plugin process to revert a fault", "error", err)
					fmt.Fprintf(s.cfg.Out, "conform: could not revert %s: %v; run `demohost recover`\n", s.ledger.Record(id).Type, err)
					continue
				}
				s.procs = append(s.procs, fresh)
				p = fresh
			}
			if _, err := s.revert(id, p, ledger.ByExit); err != nil {
				rec := s.ledger.Record(id)
				fmt.Fprintf(s.cfg.Out, "conform: could not revert %s on %s: %v; run `demohost recover`\n", rec.Type, rec.Target, err)
			}
		}
		if err := s.ledger.Close(); err != nil {
			s.cfg.Log.Error("chaos log", "error", err)
		}
	}
	for _, p := range s.procs {
		p.close()
	}
}

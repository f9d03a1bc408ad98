package conform

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/ledger"
	"github.com/demohost/demohost/host/subject"
)

// faultFor is the fault conform injects for kind k: its parameters'
// defaults, and the target a chapter gives it (empty when none does: the
// plugin chooses).
func (s *suite) faultFor(k subject.FaultKind) subject.Fault {
	f := subject.Fault{Kind: k.Kind, Name: "conform " + k.Kind, Description: "injected by demohost conform"}
	for _, c := range s.chapters {
		if c.Fault != nil && c.Fault.Kind == k.Kind {
			f.Target = c.Fault.Target
			break
		}
	}
	if resolved, err := subject.ResolveFault(s.desc, f); err == nil {
		f = resolved
	}
	return f
}

// inject injects f through p, recording it in the ledger first.
func (s *suite) inject(p *proc, f subject.Fault) (int, journal.Chaos, error) {
	if s.ledger == nil {
		id := p.plugin.Identity
		l, err := ledger.Open(s.cfg.ChaosDir, ledger.Run{Plugin: s.cfg.Plugin, SHA256: id.SHA256, Owner: id.Owner, PluginEnv: s.cfg.PluginEnv, Options: s.opts, PID: os.Getpid()})
		if err != nil {
			return 0, journal.Chaos{}, err
		}
		s.ledger, s.owner = l, map[int]*proc{}
	}
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	defer cancel()
	id, rec, err := s.ledger.Inject(ctx, p.client, -1, f)
	if err == nil {
		s.owner[id] = p
		p.log.Info("injected", "kind", f.Kind, "target", rec.Target, "handle", rec.Handle)
	}
	return id, rec, err
}

// revert reverts fault id through p (the process that injected it or a
// fresh one), recording why.
func (s *suite) revert(id int, p *proc, why ledger.Reason) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout) // reverts outlive an interrupt
	defer cancel()
	return s.ledger.Revert(ctx, p.client, id, why)
}

// errUnrecovered means the cluster has not come back to its steady health
// since an earlier check, not even set up afresh: checks that need it are
// skipped, not failed.
type errUnrecovered struct{ left []string }

func (e *errUnrecovered) Error() string {
	return "the cluster did not recover from an earlier check, not even set up afresh: " + list(e.left)
}

// mainProc is the process holding a set-up cluster with steady health. When
// an earlier check ended it, or left its cluster unrecovered, a fresh
// process is configured and set up instead.
func (s *suite) mainProc() (*proc, error) {
	if s.main != nil && s.main.alive() {
		left := s.recovers(s.main, max(s.main.watch.seq()-1, 0), s.cfg.RecoverWithin, "")
		if left == nil {
			return s.main, nil
		}
		s.cfg.Log.Warn("the cluster did not recover from an earlier check; setting up afresh", "left", list(left))
		s.main.close()
	}
	s.main = nil
	p, h, err := s.setUpFresh("main")
	if err != nil {
		return nil, err
	}
	s.main = p
	if d := s.base.harm(h, ""); len(d) > 0 {
		return nil, &errUnrecovered{d}
	}
	return p, nil
}

// needCluster is mainProc for a check: a cluster that has not recovered
// skips the check, any other error fails it.
func (s *suite) needCluster() (*proc, Status, string) {
	p, err := s.mainProc()
	var unrecovered *errUnrecovered
	switch {
	case errors.As(err, &unrecovered):
		return nil, Skip, err.Error()
	case err != nil:
		return nil, Fail, "no cluster: " + err.Error()
	}
	return p, Pass, ""
}

// setUpFresh starts a configured process, sets it up and waits up to
// RecoverWithin for its health to be as healthy as the baseline. It returns
// the process (even when health does not recover) and the last snapshot.
func (s *suite) setUpFresh(name string) (*proc, subject.Health, error) {
	p, err := s.startConfigured(name)
	if err != nil {
		return nil, subject.Health{}, fmt.Errorf("start a fresh plugin process: %w", err)
	}
	if err := p.setup(s.ctx, s.cfg.SetupTimeout); err != nil {
		return nil, subject.Health{}, fmt.Errorf("Setup in a fresh plugin process: %w", err)
	}
	h, _ := p.watchHealth().await(s.ctx, 0, s.cfg.RecoverWithin, func(h subject.Health) bool { return len(s.base.harm(h, "")) == 0 })
	return p, h, nil
}

// injection is a fault conform injected into the set-up process.
type injection struct {
	p      *proc
	id     int // in the ledger
	rec    journal.Chaos
	effect []string      // how health differed from the baseline (nil: it did not)
	after  time.Duration // how long that took to show
}

// injectKind injects a fault of kind k (faultFor) into the set-up process
// and, if await, waits up to EffectWithin for it to show in health. With
// no injection it returns the check's status and why.
func (s *suite) injectKind(k subject.FaultKind, await bool) (*injection, Status, string) {
	m, st, why := s.needCluster()
	if m == nil {
		return nil, st, why
	}
	f := s.faultFor(k)
	seq := m.watch.seq()
	id, rec, err := s.inject(m, f)
	if err != nil {
		return nil, Fail, fmt.Sprintf("InjectChaos(%s) failed: %v", describeFault(f), err)
	}
	in := &injection{p: m, id: id, rec: rec}
	if await {
		start := time.Now()
		h, ok := m.watch.await(s.ctx, seq, s.cfg.EffectWithin, func(h subject.Health) bool { return len(s.base.effect(h, rec.Target)) > 0 })
		if ok {
			in.effect, in.after = s.base.effect(h, rec.Target), time.Since(start)
		}
	}
	return in, Pass, ""
}

// disturbed waits up to d for p's health, from snapshot after on, to show
// harm that was not there before, and returns it (nil if none came).
func (s *suite) disturbed(p *proc, after int, d time.Duration, before map[string]bool) []string {
	fresh := func(h subject.Health) []string {
		var out []string
		for _, item := range s.base.harm(h, "") {
			if !before[item] {
				out = append(out, item)
			}
		}
		return out
	}
	h, ok := p.watch.await(s.ctx, after, d, func(h subject.Health) bool { return len(fresh(h)) > 0 })
	if !ok {
		return nil
	}
	return fresh(h)
}

// recovers waits up to d for p's health to be as healthy as the baseline
// (at target too: see baseline.diff), from snapshot after on; it returns
// what still differs (nil once it recovered).
func (s *suite) recovers(p *proc, after int, d time.Duration, target string) []string {
	h, ok := p.watch.await(s.ctx, after, d, func(h subject.Health) bool { return len(s.base.harm(h, target)) == 0 })
	if ok {
		return nil
	}
	if d := s.base.harm(h, target); len(d) > 0 {
		return d
	}
	return []string{"no health snapshot"}
}

// fault injects one fault of kind k with its defaults, looks for its effect
// in health, reverts it, reverts it again, and waits for health to recover.
func (s *suite) fault(k subject.FaultKind) (Status, string) {
	in, st, why := s.injectKind(k, true)
	if in == nil {
		return st, why
	}
	m, id, rec, effect := in.p, in.id, in.rec, in.effect
	var problems []string
	if rec.Handle == "" {
		problems = append(problems, "InjectChaos returned no handle (nothing could revert the fault after a crash)")
	}
	s.effects[k.Kind] = effect
	seq := m.watch.seq()
	reverted := time.Now()
	detail, err := s.revert(id, m, ledger.ByChapter)
	if err != nil {
		return Fail, fmt.Sprintf("injected %s on %s (%q), but RevertChaos failed: %v", k.Kind, rec.Target, rec.Detail, err)
	}
	if strings.TrimSpace(detail) == "" {
		problems = append(problems, "RevertChaos returned no line saying what it did")
	}
	if err := s.revertAgain(m, rec); err != nil {
		problems = append(problems, "reverting it a second time failed ("+err.Error()+"): reverting twice is not an error")
	}
	what := fmt.Sprintf("injected on %s (%q), reverted (%q)", orAny(rec.Target), rec.Detail, detail)
	if len(effect) == 0 {
		if len(problems) > 0 {
			return Fail, what + "; " + strings.Join(problems, "; ")
		}
		return Warn, fmt.Sprintf("%s, but health showed no effect within %s: conform cannot tell whether the fault did anything", what, s.cfg.EffectWithin)
	}
	what = fmt.Sprintf("injected on %s (%q): %s in health after %s; reverted (%q)", orAny(rec.Target), rec.Detail, list(effect), seconds(in.after), detail)
	if left := s.recovers(m, seq, s.cfg.RecoverWithin, rec.Target); left != nil {
		problems = append(problems, fmt.Sprintf("health did not recover within %s of the revert: still %s", s.cfg.RecoverWithin, list(left)))
	} else {
		s.recovery[k.Kind] = time.Since(reverted)
		what += fmt.Sprintf("; recovered after %s", seconds(time.Since(reverted)))
	}
	if len(problems) > 0 {
		return Fail, what + "; " + strings.Join(problems, "; ")
	}
	return Pass, what
}

// revertAgain reverts a fault that was reverted already, straight through
// the plugin (the ledger would not call it twice).
func (s *suite) revertAgain(p *proc, rec journal.Chaos) error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	_, err := p.client.RevertChaos(ctx, subject.Revert{Handle: rec.Handle, Fault: ledger.FaultOf(rec), Target: rec.Target})
	return err
}

// freshRevert injects a fault of kind k, then reverts it by its handle from
// a fresh plugin process, as the host does after a crash. Health must then
// recover in the first process; if it does not, the fault may live in the
// first process itself (and end with it): conform kills that process as a
// crash would and sets up afresh, where no trace of the fault may remain.
func (s *suite) freshRevert(k subject.FaultKind) (Status, string) {
	in, st, why := s.injectKind(k, len(s.effects[k.Kind]) > 0)
	if in == nil {
		return st, why
	}
	m, id, rec, effect := in.p, in.id, in.rec, in.effect
	fresh, err := s.startConfigured("fresh")
	if err != nil {
		return Fail, "could not start a fresh plugin process: " + err.Error()
	}
	defer fresh.close()
	seq := m.watch.seq()
	detail, err := s.revert(id, fresh, ledger.ByCrash)
	if err != nil {
		return Fail, fmt.Sprintf("a fresh plugin process (configured, never set up) could not revert handle %q: %v; a handle must name what was hit (a pid and its start time, a container), not something only the process that injected it knows", rec.Handle, err)
	}
	if strings.TrimSpace(detail) == "" {
		return Fail, fmt.Sprintf("a fresh plugin process reverted handle %q but returned no line saying what it did", rec.Handle)
	}
	if len(effect) == 0 {
		return Warn, fmt.Sprintf("a fresh plugin process reverted handle %q (%q), but the fault showed no effect in health, so conform cannot tell whether that revert worked", rec.Handle, detail)
	}
	// A revert from outside takes about as long to show as the owner's own.
	wait := min(s.cfg.RecoverWithin, max(3*time.Second, 3*s.recovery[k.Kind]))
	if s.recovers(m, seq, wait, rec.Target) == nil {
		return Pass, fmt.Sprintf("a fresh plugin process (configured, never set up) reverted it by its handle (%q), and the first process's health recovered within %s", detail, seconds(wait))
	}
	// The effect outlived a revert from outside: it lives in the first
	// process, or the handle does not undo it. End that process as a crash
	// would, then look with a fresh Setup.
	fresh.close()
	left := descendants(m.plugin.PID())
	_ = m.signal(syscall.SIGKILL)
	m.waitExit(s.ctx, s.cfg.CleanupWithin)
	m.close()
	s.main = nil
	after, h, err := s.setUpFresh("main")
	if err != nil {
		return Fail, "after a fresh process's revert left the fault in the first process, conform killed that process as a crash would; then: " + err.Error()
	}
	if d := s.base.harm(h, ""); len(d) > 0 {
		return Fail, fmt.Sprintf("a fresh plugin process's revert of handle %q (%q) left %s; once the first process was killed, a fresh Setup still shows %s: the fault outlived its plugin process and its handle did not undo it (conform cannot undo it either)", rec.Handle, detail, list(effect), list(d))
	}
	s.main = after
	if stay := survivors(left, 0); len(stay) > 0 {
		killAll(stay)
		return Fail, fmt.Sprintf("after the first process was killed as a crash would, a fresh Setup left %s running (conform killed them): Setup must reconcile what a crashed run left behind", tasks(stay))
	}
	return Pass, fmt.Sprintf("a fresh plugin process's revert (%q) left %s in the first process: the fault lives in that process; once it was killed as a crash would, a fresh Setup shows no trace of it", detail, list(effect))
}

// orAny is a target for a line.
func orAny(target string) string {
	if target == "" {
		return "the plugin's choice"
	}
	return target
}

// describeFault is "KIND on TARGET with k=v".
func describeFault(f subject.Fault) string {
	s := f.Kind
	if f.Target != "" {
		s += " on " + f.Target
	}
	if len(f.Params) > 0 {
		var ps []string
		for _, k := range slices.Sorted(maps.Keys(f.Params)) {
			ps = append(ps, k+"="+f.Params[k])
		}
		s += " with " + strings.Join(ps, ", ")
	}
	return s
}

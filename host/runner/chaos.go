package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/demohost/demohost/host/expect"
	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/sdk"
)

// Why a fault was reverted (journal.Chaos.RevertedBy).
const (
	revertedByDuration = "duration"
	revertedByChapter  = "chapter"
	revertedByExit     = "exit"
)

// inject asks the plugin for the fault of chapter i and journals it; it
// returns when the fault started.
func (u *run) inject(i int, cfg *sdk.ChaosConfig) (time.Time, error) {
	ctx, cancel := context.WithTimeout(u.ctx, u.cfg.RPCTimeout)
	defer cancel()
	inj, err := u.subject.InjectChaos(ctx, cfg)
	now := time.Now()
	if err != nil {
		return now, err
	}
	entry := journal.Chaos{
		Name:       cfg.GetName(),
		Type:       cfg.GetType().String(),
		Target:     inj.GetTarget(),
		Handle:     inj.GetHandle(),
		Chapter:    i,
		Detail:     inj.GetDetail(),
		InjectedAt: now,
	}
	if entry.Target == "" {
		entry.Target = cfg.GetTarget()
	}
	u.j.Chaos = append(u.j.Chaos, entry)
	f := activeFault{entry: len(u.j.Chaos) - 1, cfg: cfg}
	if u.cfg.ChaosLog != nil {
		if err := u.cfg.ChaosLog.Injected(entry); err != nil {
			u.event(journal.KindError, "chaos log: "+err.Error())
		}
	}
	msg := fmt.Sprintf("injected %s (%s) on %s", chaosName(cfg), entry.Type, entry.Target)
	if entry.Detail != "" {
		msg += ": " + entry.Detail
	}
	if d := cfg.GetDuration().AsDuration(); d > 0 {
		f.until = now.Add(d)
		msg += ", reverting in " + expect.FormatDuration(d)
		u.after(d, func(u *run) { u.revertEntry(f.entry, revertedByDuration) })
	}
	u.active = append(u.active, f)
	u.event(journal.KindChaos, msg)
	return now, nil
}

// revertAll reverts every active fault, oldest first.
func (u *run) revertAll(by string) {
	for _, f := range append([]activeFault(nil), u.active...) {
		u.revert(f, by)
	}
}

// revertEntry reverts journal entry entry if it is still active.
func (u *run) revertEntry(entry int, by string) {
	for _, f := range u.active {
		if f.entry == entry {
			u.revert(f, by)
			return
		}
	}
}

// revert undoes one fault, with its own timeout and a context that the
// first Quit does not cancel, and journals the outcome. A fault whose revert failed stays
// active (so exit tries again) unless this was the exit attempt.
func (u *run) revert(f activeFault, by string) {
	ctx, cancel := context.WithTimeout(u.cleanup, u.cfg.RPCTimeout)
	defer cancel()
	e := &u.j.Chaos[f.entry]
	detail, err := u.subject.RevertChaos(ctx, e.Handle, f.cfg)
	e.RevertedBy = by
	if err != nil {
		e.RevertError = err.Error()
		if by == revertedByExit {
			u.removeActive(f.entry)
		}
		u.pluginFailed(fmt.Sprintf("revert %s on %s", chaosName(f.cfg), e.Target), err)
		return
	}
	e.RevertError = ""
	e.RevertedAt = timePtr(time.Now())
	u.removeActive(f.entry)
	if u.cfg.ChaosLog != nil {
		if err := u.cfg.ChaosLog.Reverted(*e); err != nil {
			u.event(journal.KindError, "chaos log: "+err.Error())
		}
	}
	msg := fmt.Sprintf("reverted %s on %s (%s)", chaosName(f.cfg), e.Target, by)
	if detail != "" {
		msg += ": " + detail
	}
	u.event(journal.KindRevert, msg)
}

func (u *run) removeActive(entry int) {
	for k, f := range u.active {
		if f.entry == entry {
			u.active = append(u.active[:k:k], u.active[k+1:]...)
			return
		}
	}
}

// chaosName is the fault's name, or its type when it has none.
func chaosName(cfg *sdk.ChaosConfig) string {
	if cfg.GetName() != "" {
		return cfg.GetName()
	}
	return cfg.GetType().String()
}

package runner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/demohost/demohost/host/expect"
	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/ledger"
	"github.com/demohost/demohost/host/subject"
)

// activeFault is an injected fault not yet reverted.
type activeFault struct {
	id      int // in the ledger
	chapter int
	fault   subject.Fault
	target  string
	at      time.Time
	until   time.Time // zero: until reverted
}

// inject asks the plugin, through the ledger, for chapter i's fault; it
// returns when the fault started and the target it hit.
func (u *run) inject(i int, f subject.Fault) (time.Time, string, error) {
	ctx, cancel := context.WithTimeout(u.ctx, u.cfg.RPCTimeout)
	defer cancel()
	id, rec, err := u.ledger.Inject(ctx, u.plugin, i, f)
	if err != nil {
		return time.Now(), "", err
	}
	a := activeFault{id: id, chapter: i, fault: f, target: rec.Target, at: rec.InjectedAt}
	msg := fmt.Sprintf("injected %s on %s", faultLabel(f), rec.Target)
	if rec.Detail != "" {
		msg += ": " + rec.Detail
	}
	if f.Duration > 0 {
		a.until = rec.InjectedAt.Add(f.Duration)
		msg += ", reverting in " + expect.FormatDuration(f.Duration)
		u.after(f.Duration, func(u *run) { u.revertID(id, ledger.ByDuration) })
	}
	u.active = append(u.active, a)
	u.eventSev(journal.KindChaos, subject.Warning, msg)
	return rec.InjectedAt, rec.Target, nil
}

// faultLabel is "name (KIND, k=v, ...)" or "KIND (k=v)".
func faultLabel(f subject.Fault) string {
	var parts []string
	if f.Name != "" {
		parts = append(parts, f.Kind)
	}
	parts = append(parts, subject.ParamList(f.Params)...)
	label := f.Label()
	if len(parts) > 0 {
		label += " (" + strings.Join(parts, ", ") + ")"
	}
	return label
}

// revertAll reverts every active fault, newest first.
func (u *run) revertAll(why ledger.Reason) {
	for k := len(u.active) - 1; k >= 0 && k < len(u.active); k-- {
		u.revert(u.active[k], why)
	}
}

// revertID reverts fault id if it is still active.
func (u *run) revertID(id int, why ledger.Reason) {
	for _, a := range u.active {
		if a.id == id {
			u.revert(a, why)
			return
		}
	}
}

// revert undoes one fault, with its own timeout and a context that the
// first Quit does not cancel, and says what happened. A fault whose revert
// failed stays active (exit tries again) unless this was the exit attempt:
// then it stays in the chaos log for `demohost recover`.
func (u *run) revert(a activeFault, why ledger.Reason) {
	ctx, cancel := context.WithTimeout(u.cleanup, u.cfg.RPCTimeout)
	defer cancel()
	detail, err := u.ledger.Revert(ctx, u.plugin, a.id, why)
	if err != nil {
		if why == ledger.ByExit {
			// Nothing tries again in this run: the ledger keeps it unreverted
			// for the crash path or `demohost recover`.
			u.removeActive(a.id)
		}
		what := fmt.Sprintf("revert %s on %s", faultLabel(a.fault), a.target)
		if fatal(err) {
			u.pluginFailed(what, err)
		} else {
			u.eventSev(journal.KindError, subject.Critical, what+" failed: "+err.Error())
			if u.frontier >= 0 && !u.chapters[u.frontier].left {
				u.chapters[u.frontier].fail(what + " failed: " + err.Error())
			}
		}
		return
	}
	u.removeActive(a.id)
	msg := fmt.Sprintf("reverted %s on %s (%s)", faultLabel(a.fault), a.target, why)
	if detail != "" {
		msg += ": " + detail
	}
	u.event(journal.KindRevert, msg)
	u.faultReverted(a, time.Now())
}

func (u *run) removeActive(id int) {
	for k, a := range u.active {
		if a.id == id {
			u.active = append(u.active[:k:k], u.active[k+1:]...)
			return
		}
	}
}

package session

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/demohost/demohost/host/ledger"
	"github.com/demohost/demohost/host/sanitize"
)

// RecoverOptions say how `demohost recover` starts the plugins it needs.
type RecoverOptions struct {
	ChaosDir string // default ledger.DefaultDir()
	SHA256   string // pins every plugin it starts
	LogFile  string
}

// Recover reverts the faults of every run that ended without reverting
// them (its host crashed or was SIGKILLed): for each, it starts that run's
// plugin again, configured as it was, and reverts each fault by its handle
// through the ledger (reason "recover"). It says one line per fault on
// stdout.
func Recover(o RecoverOptions, stdout io.Writer) error {
	if o.ChaosDir == "" {
		o.ChaosDir = ledger.DefaultDir()
	}
	abandoned, err := ledger.FindAbandoned(o.ChaosDir)
	if err != nil {
		return fmt.Errorf("read the chaos logs in %s: %w", o.ChaosDir, err)
	}
	if len(abandoned) == 0 {
		fmt.Fprintln(stdout, "nothing to recover: every fault demohost injected was reverted")
		return nil
	}
	failed := 0
	for _, a := range abandoned {
		if err := recoverRun(o, a, stdout); err != nil {
			failed++
			sanitize.Fprintf(stdout, "not recovered: %s: %v", a.Describe(), err)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d runs could not be recovered (listed above); fix what they say and run demohost recover again", failed, len(abandoned))
	}
	return nil
}

// recoverRun reverts the outstanding faults of one abandoned run.
func recoverRun(o RecoverOptions, a ledger.Abandoned, stdout io.Writer) error {
	s, err := Open(Config{Plugin: a.Run.Plugin, SHA256: o.SHA256, Set: a.Run.Options, LogFile: o.LogFile, PluginEnv: a.Run.PluginEnv})
	if err != nil {
		return err
	}
	defer s.Close()
	l, err := ledger.Resume(a)
	if err != nil {
		return err
	}
	defer l.Close()
	var errs []error
	for _, id := range l.Unreverted() {
		rec := l.Record(id)
		detail, err := l.Revert(context.Background(), s.Plugin(), id, ledger.ByRecover)
		if err != nil {
			errs = append(errs, fmt.Errorf("revert %s on %s: %w", rec.Type, rec.Target, s.CallError("RevertChaos", err)))
			continue
		}
		sanitize.Fprintf(stdout, "reverted %s on %s (injected %s): %s", rec.Type, rec.Target, rec.InjectedAt.Local().Format("2006-01-02 15:04:05"), detail)
	}
	return errors.Join(errs...)
}

// WarnAbandoned says, one line each, which earlier runs left faults behind.
func WarnAbandoned(chaosDir string, stderr io.Writer) {
	if chaosDir == "" {
		chaosDir = ledger.DefaultDir()
	}
	abandoned, err := ledger.FindAbandoned(chaosDir)
	if err != nil {
		sanitize.Fprintf(stderr, "demohost: warning: cannot read the chaos logs: %v", err)
		return
	}
	for _, a := range abandoned {
		sanitize.Fprintf(stderr, "demohost: warning: an earlier run left faults unreverted: %s; run `demohost recover` to revert them", a.Describe())
	}
}

package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/demohost/demohost/host/ledger"
	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/host/sanitize"
	"github.com/demohost/demohost/host/subject"
)

// RecoverOptions say how `demohost recover` starts the plugins it needs.
type RecoverOptions struct {
	ChaosDir string // default ledger.DefaultDir()
	// Plugin (--plugin) is a plugin the user vouches for: the runs that
	// used it are recovered through it even if it changed since they ran.
	Plugin string
	// SHA256 pins the plugins it starts (with Plugin: that one).
	SHA256  string
	LogFile string
	// ForgetMissing sets aside (FILE.forgotten) the logs of runs whose
	// plugin executable no longer exists, instead of failing on them.
	ForgetMissing bool
}

// Recover reverts the faults of every run that ended without reverting
// them (its host crashed or was SIGKILLed): for each, it starts that run's
// plugin again — only if it is the very build that ran (same SHA-256, same
// owner), unless the user named it with --plugin — configured as it was,
// with the environment variables it was given, and reverts each fault by
// its handle through the ledger (reason "recover"). When the run's log was
// cut short while an entry was written, it also asks the plugin to tear
// down what that run left. It says one line per fault on stdout; a run it
// cannot recover is said and kept for another try.
func Recover(o RecoverOptions, stdout io.Writer) error {
	if o.ChaosDir == "" {
		o.ChaosDir = ledger.DefaultDir()
	}
	survey, err := ledger.SurveyDir(o.ChaosDir)
	if err != nil {
		return fmt.Errorf("read the chaos logs in %s: %w", o.ChaosDir, err)
	}
	for _, w := range survey.Warnings {
		sanitize.Fprintf(stdout, "warning: %s", w)
	}
	vouched := ""
	if o.Plugin != "" {
		if vouched, err = pluginhost.Resolve(o.Plugin, pluginhost.SearchPath(os.Getenv(pluginhost.PathEnv))); err != nil {
			return err
		}
	}
	if len(survey.Abandoned) == 0 {
		fmt.Fprintln(stdout, "nothing to recover: every fault demohost injected was reverted")
		return nil
	}
	failed := 0
	for _, a := range survey.Abandoned {
		if vouched == "" {
			if _, err := os.Stat(a.Run.Plugin); errors.Is(err, os.ErrNotExist) {
				if o.ForgetMissing {
					if err := os.Rename(a.File, a.File+".forgotten"); err != nil {
						failed++
						sanitize.Fprintf(stdout, "not set aside: %s: %v", a.Describe(), err)
						continue
					}
					sanitize.Fprintf(stdout, "set aside: %s: its plugin no longer exists; the log is %s.forgotten (what it lists may still be in effect where that plugin ran it)", a.Describe(), a.File)
					continue
				}
				failed++
				sanitize.Fprintf(stdout, "not recovered: %s: its plugin %s no longer exists: build it there again, pass --plugin PATH for another build of it, or run demohost recover --forget-missing to set this log aside", a.Describe(), a.Run.Plugin)
				continue
			}
		}
		if err := recoverRun(o, a, a.Run.Plugin == vouched, stdout); err != nil {
			failed++
			sanitize.Fprintf(stdout, "not recovered: %s: %v", a.Describe(), err)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d runs could not be recovered (listed above); fix what they say and run demohost recover again", failed, len(survey.Abandoned))
	}
	return nil
}

// recoverRun reverts the outstanding faults of one abandoned run (and tears
// down after an entry cut short). vouched: the user named its plugin.
func recoverRun(o RecoverOptions, a ledger.Abandoned, vouched bool, stdout io.Writer) error {
	pin := o.SHA256
	if !vouched {
		if err := unchanged(a.Run); err != nil {
			return err
		}
		if pin == "" {
			pin = a.Run.SHA256 // what runs is what was checked
		}
	}
	s, err := Open(Config{Plugin: a.Run.Plugin, SHA256: pin, Set: a.Run.Options, LogFile: o.LogFile, PluginEnv: a.Run.PluginEnv})
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
	if l.CutShort() {
		ctx, cancel := context.WithTimeout(context.Background(), crashRevertTimeout)
		defer cancel()
		if err := s.Plugin().Teardown(ctx, func(subject.Line) {}); err != nil {
			errs = append(errs, fmt.Errorf("tear down what the run left (its log was cut short while an entry was written): %w", s.CallError("Teardown", err)))
		} else if err := l.TornDown(); err != nil {
			errs = append(errs, err)
		} else {
			sanitize.Fprintf(stdout, "tore down what the run of %s left (its log was cut short while an entry was written)", a.Run.Plugin)
		}
	}
	return errors.Join(errs...)
}

// unchanged checks that run's plugin is the very build that ran: recover
// runs nothing else unless the user vouches for it with --plugin.
func unchanged(run ledger.Run) error {
	trust := fmt.Sprintf("if you trust it, run `demohost recover --plugin %s`", run.Plugin)
	if run.SHA256 == "" {
		return fmt.Errorf("its log does not say which build of %s ran (an older demohost wrote it); %s", run.Plugin, trust)
	}
	path, err := pluginhost.Resolve(run.Plugin, nil)
	if err != nil {
		return err
	}
	id, err := pluginhost.Identify(path)
	if err != nil {
		return err
	}
	switch {
	case id.SHA256 != run.SHA256:
		return fmt.Errorf("%s changed since that run (its SHA-256 was %s, is now %s) and recover runs only the plugin that ran; %s", run.Plugin, run.SHA256, id.SHA256, trust)
	case id.Owner != run.Owner:
		return fmt.Errorf("%s now belongs to user %d, not to user %d as when it ran; %s", run.Plugin, id.Owner, run.Owner, trust)
	}
	return nil
}

// WarnAbandoned says, one line each, which earlier runs left faults behind,
// and what was wrong with the chaos logs it skipped.
func WarnAbandoned(chaosDir string, stderr io.Writer) {
	for _, w := range AbandonedWarnings(chaosDir) {
		sanitize.Fprintf(stderr, "demohost: warning: %s", w)
	}
}

// AbandonedWarnings are the lines WarnAbandoned says, without its prefix
// (the terminal UI shows them among its events).
func AbandonedWarnings(chaosDir string) []string {
	if chaosDir == "" {
		chaosDir = ledger.DefaultDir()
	}
	survey, err := ledger.SurveyDir(chaosDir)
	if err != nil {
		return []string{fmt.Sprintf("cannot read the chaos logs: %v", err)}
	}
	out := append([]string(nil), survey.Warnings...)
	for _, a := range survey.Abandoned {
		out = append(out, "an earlier run left faults unreverted: "+a.Describe()+"; run `demohost recover` to revert them")
	}
	return out
}

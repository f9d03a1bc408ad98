package main

import (
	"context"
	"errors"

	"fmt"
	"io"

	"github.com/demohost/demohost/host/chaoslog"
	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/sdk"
	v1 "github.com/demohost/demohost/sdk/proto/demohost/v1"
)

// recoverOptions is a parsed `demohost recover` command line.
type recoverOptions struct {
	logFile string
	sha256  string
}

func parseRecoverArgs(args []string) (recoverOptions, error) {
	var o recoverOptions
	fs := newFlagSet()
	fs.StringVar(&o.logFile, "log-file", "", "")
	fs.StringVar(&o.sha256, "plugin-sha256", "", "")
	return o, parse(fs, args)
}

// recoverFaults is `demohost recover`: for every run that ended without
// reverting its faults (a crashed or SIGKILLed host), it starts that run's
// plugin again and reverts each fault by its handle. No Setup: only the
// reverts run.
func recoverFaults(o recoverOptions, stdout io.Writer) error {
	abandoned, err := chaoslog.FindAbandoned(chaoslog.DefaultDir())
	if err != nil {
		return fmt.Errorf("read the chaos logs in %s: %w", chaoslog.DefaultDir(), err)
	}
	if len(abandoned) == 0 {
		fmt.Fprintln(stdout, "nothing to recover: every fault demohost injected was reverted")
		return nil
	}
	failed := 0
	for _, a := range abandoned {
		if err := recoverRun(o, a, stdout); err != nil {
			failed++
			fmt.Fprintf(stdout, "not recovered: %s: %v\n", a.Describe(), err)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d runs could not be recovered (listed above); fix what they say and run demohost recover again", failed, len(abandoned))
	}
	return nil
}

// recoverRun reverts the outstanding faults of one abandoned run.
func recoverRun(o recoverOptions, a chaoslog.Abandoned, stdout io.Writer) error {
	s, err := openSession(common{plugin: a.Plugin, sha256: o.sha256, set: a.Options, logFile: o.logFile})
	if err != nil {
		return err
	}
	defer s.Close()
	var errs []error
	for _, c := range a.Active {
		if _, err := s.plugin.Subject.RevertChaos(context.Background(), c.Handle, chaosConfig(c)); err != nil {
			errs = append(errs, fmt.Errorf("revert %s on %s: %w", c.Type, c.Target, s.rpcError("RevertChaos", err)))
			continue
		}
		if err := chaoslog.MarkReverted(a, c); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "reverted %s on %s (handle %s, injected %s)\n", c.Type, c.Target, c.Handle, c.InjectedAt.Local().Format("2006-01-02 15:04:05"))
	}
	return errors.Join(errs...)
}

// chaosConfig rebuilds the config a fault was injected with, as far as the
// journal recorded it.
func chaosConfig(c journal.Chaos) *sdk.ChaosConfig {
	return &sdk.ChaosConfig{Name: c.Name, Type: sdk.ChaosType(v1.ChaosType_value[c.Type]), Target: c.Target}
}

// warnAbandoned says, one line each, which earlier runs left faults behind.
func warnAbandoned(stderr io.Writer) {
	abandoned, err := chaoslog.FindAbandoned(chaoslog.DefaultDir())
	if err != nil {
		fmt.Fprintf(stderr, "demohost: warning: cannot read the chaos logs: %v\n", err)
		return
	}
	for _, a := range abandoned {
		fmt.Fprintf(stderr, "demohost: warning: an earlier run left faults unreverted: %s; run `demohost recover` to revert them\n", a.Describe())
	}
}

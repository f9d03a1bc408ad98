package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/demohost/demohost/host/conform"
	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/host/report"
)

// conformOptions is a parsed `demohost conform` command line.
type conformOptions struct {
	common
	junit                       string
	effectWithin, recoverWithin time.Duration
}

func parseConformArgs(args []string) (conformOptions, error) {
	var o conformOptions
	fs := newFlagSet()
	o.register(fs)
	fs.StringVar(&o.junit, "junit", "", "")
	fs.DurationVar(&o.effectWithin, "effect-within", conform.DefaultEffectWithin, "")
	fs.DurationVar(&o.recoverWithin, "recover-within", conform.DefaultRecoverWithin, "")
	if err := parse(fs, args); err != nil {
		return o, err
	}
	for name, d := range map[string]time.Duration{"--effect-within": o.effectWithin, "--recover-within": o.recoverWithin} {
		if d <= 0 {
			return o, fmt.Errorf("%s %s: want a positive duration such as 30s", name, d)
		}
	}
	if o.plugin == "" {
		return o, errors.New("conform needs a plugin: demohost conform --plugin PATH")
	}
	return o, report.CheckOutput("--junit", o.junit, "conform.xml")
}

// conformCommand is `demohost conform`: one line per check on stdout, the
// summary, --junit if asked. A first signal stops the checks (every fault
// is still reverted); a second exits at once (the plugins revert theirs as
// their host goes).
func conformCommand(o conformOptions, stdout, stderr io.Writer) int {
	cfg, err := o.sessionConfig()
	if err != nil {
		return fail(stderr, err)
	}
	path, err := pluginhost.Resolve(cfg.Plugin, pluginhost.SearchPath(os.Getenv(pluginhost.PathEnv)))
	if err != nil {
		return fail(stderr, err)
	}
	logPath := cfg.LogFile
	if logPath == "" {
		if logPath, err = pluginhost.DefaultLogPath(os.Getenv); err != nil {
			return fail(stderr, err)
		}
	}
	log, logFile, err := pluginhost.OpenLog(logPath)
	if err != nil {
		return fail(stderr, err)
	}
	defer logFile.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; !ok {
			return
		}
		fmt.Fprintln(stderr, "demohost: conform interrupted: reverting what it injected (again to exit at once)")
		cancel()
		if _, ok := <-sigs; ok {
			os.Exit(exitFailed)
		}
	}()

	fmt.Fprintf(stdout, "demohost conform: %s (log: %s)\n", path, logPath)
	rep, err := conform.Run(ctx, conform.Config{Plugin: path, SHA256: cfg.SHA256, PluginEnv: cfg.PluginEnv, Set: cfg.Set, Log: log.Named("conform"),
		LogPath: logPath, StartTimeout: cfg.StartTimeout, Out: stdout, EffectWithin: o.effectWithin, RecoverWithin: o.recoverWithin})
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintln(stdout, rep.Summary())
	code := exitPassed
	if rep.Failed() || ctx.Err() != nil {
		code = exitFailed
	}
	if o.junit != "" {
		if err := report.WriteFile(o.junit, rep.WriteJUnit); err != nil {
			fmt.Fprintf(stderr, "demohost: --junit %s: %v\n", o.junit, err)
			return exitUsage
		}
		fmt.Fprintf(stdout, "junit: %s\n", o.junit)
	}
	return code
}

// conformHostCommand is the hidden `demohost conform-host`: the host that
// `demohost conform` starts and SIGKILLs (see conform.Host).
func conformHostCommand(stdin io.Reader, stdout, stderr io.Writer) int {
	return fail(stderr, conform.Host(stdin, stdout))
}

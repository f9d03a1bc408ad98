package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/demohost/demohost/host/report"
	"github.com/demohost/demohost/host/tui"
)

const usage = `demohost runs a guided chaos demo of a subject plugin.

Usage:
  demohost --plugin PATH [--set key=value]... [--headless] [--report FILE] [--log-file FILE]
           [--timeline FILE.svg] [--junit FILE.xml] [--plugin-env NAME]...
  demohost describe --plugin PATH [--set key=value]... [--plugin-env NAME]...
  demohost conform --plugin PATH [--set key=value]... [--junit FILE.xml]
           [--effect-within 10s] [--recover-within 30s] [--plugin-env NAME]...
  demohost report FILE.json [--timeline FILE.svg] [--junit FILE.xml]
  demohost replay FILE.json [--speed N] [--cast FILE.cast [--size 120x40]]
  demohost recover [--plugin PATH [--plugin-sha256 HEX]] [--forget-missing] [--log-file FILE]

PATH is a plugin executable, a directory holding one (./plugins/example after
make build), or a bare name looked up in $DEMOHOST_PLUGIN_PATH, then ./plugins.

Flags:
  --plugin PATH          the subject plugin to run
  --set key=value        a subject option (repeatable; see demohost describe)
  --headless             no terminal UI: advance by itself, print progress, exit 0 only if every chapter passed
  --report FILE          write the run's JSON journal to FILE
  --timeline FILE.svg    write an SVG timeline of the run (nodes, faults, violations, chapters, metrics)
  --junit FILE.xml       write JUnit XML: a testcase per chapter, for CI
  --log-file FILE        demohost and plugin log (default $XDG_STATE_HOME/demohost/demohost.log)
  --plugin-sha256 HEX    refuse to start the plugin unless its SHA-256 is HEX
  --plugin-env NAME      pass the environment variable NAME to the plugin (repeatable; see README.md, Safety)
  --watch NAME=COMMAND   show COMMAND's output in a panel of its own (repeatable; terminal UI only)

demohost recover reverts the faults of runs that ended without reverting them
(a crashed or killed demohost); a run warns when there are any. It starts only
the very plugin build that ran; --plugin PATH vouches for PATH, changed or not.
--forget-missing sets aside the logs of runs whose plugin no longer exists.

demohost conform checks that a plugin, in any language, keeps its duties:
one line per check (pass, fail, warn, skip, and why); it exits 0 when none
fails. It sets the subject up, injects and reverts each fault kind, and
kills plugin processes and a host of its own on purpose; it reverts
everything it injected. --effect-within bounds how long a fault may take to
show in health, --recover-within how long health may take to recover.

demohost report rebuilds the timeline and the JUnit XML from a saved --report journal.

demohost replay shows a saved --report journal in the terminal UI as the run
showed it, with no plugin, cluster or Docker: space pauses, + and - change the
speed (--speed: 0.5, 1, 2, 4 or 8), → and ← move by chapter, q quits. With
--cast it writes an asciinema (asciicast v2) recording instead, no terminal
needed, at --size COLUMNSxROWS (default 120x40).

Exit codes: 0 every chapter passed, 1 a chapter failed, 2 bad input or plugin error.
`

// errHelp asks for the usage text.
var errHelp = errors.New("help requested")

// runOptions is a parsed `demohost --plugin ...` command line.
type runOptions struct {
	common
	headless bool
	watches  []tui.Watch
	outputs  report.Outputs
}

// reportOptions is a parsed `demohost report r.json ...` command line.
type reportOptions struct {
	journal string
	outputs report.Outputs // Timeline and JUnit only
}

// recoverOptions is a parsed `demohost recover` command line.
type recoverOptions struct {
	plugin        string
	logFile       string
	sha256        string
	forgetMissing bool
}

// describeOptions is a parsed `demohost describe` command line.
type describeOptions struct {
	common
}

// common holds the flags every command takes.
type common struct {
	plugin    string
	sha256    string
	set       map[string]string
	logFile   string
	pluginEnv []string
}

func (c *common) register(fs *flag.FlagSet) {
	c.set = map[string]string{}
	fs.StringVar(&c.plugin, "plugin", "", "")
	fs.StringVar(&c.sha256, "plugin-sha256", "", "")
	fs.StringVar(&c.logFile, "log-file", "", "")
	fs.Func("plugin-env", "", func(s string) error {
		name, err := parseEnvName(s)
		c.pluginEnv = append(c.pluginEnv, name)
		return err
	})
	fs.Func("set", "", func(s string) error {
		k, v, err := parseSet(s)
		if err != nil {
			return err
		}
		c.set[k] = v
		return nil
	})
}

func parseRunArgs(args []string) (runOptions, error) {
	var o runOptions
	fs := newFlagSet()
	o.register(fs)
	fs.BoolVar(&o.headless, "headless", false, "")
	fs.StringVar(&o.outputs.Journal, "report", "", "")
	registerRendered(fs, &o.outputs)
	fs.Func("watch", "", func(s string) error {
		name, cmd, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(cmd) == "" {
			return fmt.Errorf("want NAME=COMMAND, e.g. --watch 'redis=redis-cli info stats'")
		}
		o.watches = append(o.watches, tui.Watch{Name: strings.TrimSpace(name), Command: cmd})
		return nil
	})
	if err := parse(fs, args); err != nil {
		return o, err
	}
	if o.plugin == "" {
		return o, errors.New("no plugin given: pass --plugin PATH (e.g. --plugin ./plugins/example after `make build`)")
	}
	return o, nil
}

func parseDescribeArgs(args []string) (describeOptions, error) {
	var o describeOptions
	fs := newFlagSet()
	o.register(fs)
	if err := parse(fs, args); err != nil {
		return o, err
	}
	if o.plugin == "" {
		return o, errors.New("describe needs a plugin: demohost describe --plugin PATH")
	}
	return o, nil
}

func newFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("demohost", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed as one line by the caller
	return fs
}

// parse parses args and turns the flag package's errors into one line with
// the fix.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	if err != nil {
		return fmt.Errorf("%v; see demohost --help", err)
	}
	if fs.NArg() > 0 {
		if f := fs.Lookup("plugin"); f != nil && f.Value.String() == "" {
			return fmt.Errorf("unexpected argument %q: name the plugin with --plugin %s", fs.Arg(0), fs.Arg(0))
		}
		return fmt.Errorf("unexpected argument %q: flags come as --name value; see demohost --help", fs.Arg(0))
	}
	return nil
}

// parseSet splits one --set key=value. The key must be non-empty and
// without spaces; the value may be empty or hold '='.
func parseSet(s string) (key, value string, err error) {
	key, value, ok := strings.Cut(s, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" || strings.ContainsAny(key, " \t\n") {
		return "", "", fmt.Errorf("want key=value, e.g. --set nodes=5 (see demohost describe for the options)")
	}
	return key, value, nil
}

// parseEnvName checks a --plugin-env NAME: a variable's name, not an
// assignment (the value is the host's own).
func parseEnvName(s string) (string, error) {
	if s == "" || strings.ContainsAny(s, "= \t\n") {
		return "", fmt.Errorf("want the name of an environment variable, e.g. --plugin-env AWS_PROFILE (its value is demohost's own)")
	}
	return s, nil
}

// registerRendered adds --timeline and --junit.
func registerRendered(fs *flag.FlagSet, o *report.Outputs) {
	fs.StringVar(&o.Timeline, "timeline", "", "")
	fs.StringVar(&o.JUnit, "junit", "", "")
}

// parseReportArgs takes the journal path first or after the flags.
func parseReportArgs(args []string) (reportOptions, error) {
	var o reportOptions
	fs := newFlagSet()
	registerRendered(fs, &o.outputs)
	journal, err := parseWithJournal(fs, args, "report", "demohost report r.json --timeline t.svg --junit j.xml")
	if err != nil {
		return o, err
	}
	o.journal = journal
	switch {
	case o.outputs.Timeline == "" && o.outputs.JUnit == "":
		return o, fmt.Errorf("nothing to write: pass --timeline FILE.svg and/or --junit FILE.xml, e.g. demohost report %s --timeline t.svg", o.journal)
	}
	return o, o.outputs.Check()
}

// parseWithJournal parses the flags of command, which takes one journal,
// first or after the flags, and returns the journal; example is the
// command line its errors show.
func parseWithJournal(fs *flag.FlagSet, args []string, command, example string) (string, error) {
	journal := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		journal, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", errHelp
		}
		return "", fmt.Errorf("%v; see demohost --help", err)
	}
	rest := fs.Args()
	if journal == "" && len(rest) > 0 {
		journal, rest = rest[0], rest[1:]
	}
	switch {
	case len(rest) > 0:
		return "", fmt.Errorf("unexpected argument %q: demohost %s takes one journal, e.g. %s", rest[0], command, example)
	case journal == "":
		return "", fmt.Errorf("%s needs a journal: %s", command, example)
	}
	return journal, nil
}

func parseRecoverArgs(args []string) (recoverOptions, error) {
	var o recoverOptions
	fs := newFlagSet()
	fs.StringVar(&o.plugin, "plugin", "", "")
	fs.StringVar(&o.logFile, "log-file", "", "")
	fs.StringVar(&o.sha256, "plugin-sha256", "", "")
	fs.BoolVar(&o.forgetMissing, "forget-missing", false, "")
	return o, parse(fs, args)
}

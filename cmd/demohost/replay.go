package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/replay"
	"github.com/demohost/demohost/host/report"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/tui"
)

// replayOptions is a parsed `demohost replay FILE.json ...` command line.
type replayOptions struct {
	journal string
	cast    string
	size    string
	speed   float64
	cols    int
	rows    int
}

// parseReplayArgs takes the journal path first or after the flags.
func parseReplayArgs(args []string) (replayOptions, error) {
	o := replayOptions{speed: 1}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		o.journal, args = args[0], args[1:]
	}
	fs := newFlagSet()
	fs.StringVar(&o.cast, "cast", "", "")
	fs.StringVar(&o.size, "size", "", "")
	fs.Float64Var(&o.speed, "speed", 1, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, errHelp
		}
		return o, fmt.Errorf("%v; see demohost --help", err)
	}
	rest := fs.Args()
	if o.journal == "" && len(rest) > 0 {
		o.journal, rest = rest[0], rest[1:]
	}
	switch {
	case len(rest) > 0:
		return o, fmt.Errorf("unexpected argument %q: demohost replay takes one journal, e.g. demohost replay r.json", rest[0])
	case o.journal == "":
		return o, errors.New("replay needs a journal: demohost replay r.json (one written with --report)")
	case o.size != "" && o.cast == "":
		return o, errors.New("--size sets the size of a --cast recording; the terminal UI takes the terminal's: add --cast FILE.cast")
	}
	if err := replay.CheckSpeed(o.speed); err != nil {
		return o, fmt.Errorf("--%v", err)
	}
	o.cols, o.rows = 120, 40
	if o.size != "" {
		if _, err := fmt.Sscanf(o.size+"\n", "%dx%d\n", &o.cols, &o.rows); err != nil || o.cols < 1 || o.rows < 1 || o.cols > 1000 || o.rows > 1000 {
			return o, fmt.Errorf("--size %s: want COLUMNSxROWS, e.g. --size 120x40", o.size)
		}
	}
	return o, nil
}

// replayCommand is `demohost replay`: the terminal UI, or an asciicast
// recording with --cast, fed from a journal; no plugin runs.
func replayCommand(o replayOptions, stdout io.Writer) error {
	j, err := journal.Read(o.journal)
	if err != nil {
		return err
	}
	rec, err := runner.ReadRecording(j)
	if err != nil {
		return fmt.Errorf("cannot replay %s: %w", o.journal, err)
	}
	if o.cast != "" {
		err := report.WriteFile("cast", o.cast, "demo.cast", func(w io.Writer) error {
			return tui.WriteCast(w, rec, tui.CastOptions{Width: o.cols, Height: o.rows, Speed: o.speed, NoColor: os.Getenv("NO_COLOR") != ""})
		})
		if err == nil {
			fmt.Fprintf(stdout, "cast: %s\n", o.cast)
		}
		return err
	}
	if !isTerminal(os.Stdin) || !isTerminal(os.Stdout) {
		return errors.New("replay needs a terminal; write an asciicast recording instead with --cast FILE.cast")
	}
	return tui.Replay(rec, o.speed)
}

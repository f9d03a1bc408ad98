package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

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
	fs := newFlagSet()
	fs.StringVar(&o.cast, "cast", "", "")
	fs.StringVar(&o.size, "size", "", "")
	fs.Float64Var(&o.speed, "speed", 1, "")
	journal, err := parseWithJournal(fs, args, "replay", "demohost replay r.json (a journal written with --report)")
	if err != nil {
		return o, err
	}
	o.journal = journal
	if o.size != "" && o.cast == "" {
		return o, errors.New("--size sets the size of a --cast recording; the terminal UI takes the terminal's: add --cast FILE.cast")
	}
	if err := replay.CheckSpeed(o.speed); err != nil {
		return o, fmt.Errorf("--%v", err)
	}
	if err := report.CheckOutput("--cast", o.cast, "demo.cast"); err != nil {
		return o, err
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
// recording with --cast, fed from a journal; no plugin runs. It exits 0
// when the user quits, 1 when a signal (SIGINT, SIGTERM, SIGHUP) ends the
// replay (the terminal restored all the same), 2 on bad input.
func replayCommand(o replayOptions, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if code := fail(stderr, replayJournal(ctx, o, stdout)); code != exitPassed {
		return code
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "demohost: replay interrupted by a signal")
		return exitFailed
	}
	return exitPassed
}

// replayJournal plays o's journal until the user quits or ctx ends.
func replayJournal(ctx context.Context, o replayOptions, stdout io.Writer) error {
	j, err := journal.Read(o.journal)
	if err != nil {
		return err
	}
	rec, err := runner.ReadRecording(j)
	if err != nil {
		return fmt.Errorf("cannot replay %s: %w", o.journal, err)
	}
	if o.cast != "" {
		err := report.WriteFile(o.cast, func(w io.Writer) error {
			return tui.WriteCast(w, rec, tui.CastOptions{Width: o.cols, Height: o.rows, Speed: o.speed, NoColor: os.Getenv("NO_COLOR") != ""})
		})
		if err != nil {
			return fmt.Errorf("--cast %s: %w", o.cast, err)
		}
		fmt.Fprintf(stdout, "cast: %s\n", o.cast)
		return nil
	}
	if !isTerminal(os.Stdin) || !isTerminal(os.Stdout) {
		return errors.New("replay needs a terminal; write an asciicast recording instead with --cast FILE.cast")
	}
	return tui.Replay(ctx, rec, o.speed)
}

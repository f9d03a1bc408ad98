package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/report"
)

// renderOptions are the rendered reports a run or `demohost report`
// writes besides the JSON journal.
type renderOptions struct {
	timeline string // SVG timeline
	junit    string // JUnit XML
}

// reportOptions is a parsed `demohost report r.json ...` command line.
type reportOptions struct {
	journal string
	renderOptions
}

func (r *renderOptions) registerRender(fs *flag.FlagSet) {
	fs.StringVar(&r.timeline, "timeline", "", "")
	fs.StringVar(&r.junit, "junit", "", "")
}

// check fails early, before anything runs, if an output could not be
// written.
func (r renderOptions) check() error {
	if err := checkOutputPath("--timeline", r.timeline, "timeline.svg"); err != nil {
		return err
	}
	return checkOutputPath("--junit", r.junit, "junit.xml")
}

// parseReportArgs takes the journal path first or after the flags.
func parseReportArgs(args []string) (reportOptions, error) {
	var o reportOptions
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		o.journal, args = args[0], args[1:]
	}
	fs := newFlagSet()
	o.registerRender(fs)
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
		return o, fmt.Errorf("unexpected argument %q: demohost report takes one journal, e.g. demohost report r.json --timeline t.svg", rest[0])
	case o.journal == "":
		return o, errors.New("report needs a journal: demohost report r.json --timeline t.svg --junit j.xml")
	case o.timeline == "" && o.junit == "":
		return o, fmt.Errorf("nothing to write: pass --timeline FILE.svg and/or --junit FILE.xml, e.g. demohost report %s --timeline t.svg", o.journal)
	}
	return o, o.check()
}

// reportCommand is `demohost report`: it rebuilds the timeline and the
// JUnit XML from a saved journal.
func reportCommand(o reportOptions, stdout io.Writer) error {
	j, err := journal.Read(o.journal)
	if err != nil {
		return err
	}
	return writeRendered(o.renderOptions, j, stdout)
}

// writeRendered writes the timeline and JUnit files asked for and names
// each on stdout.
func writeRendered(o renderOptions, j *journal.Journal, stdout io.Writer) error {
	for _, out := range []struct {
		flag, path string
		write      func(io.Writer, *journal.Journal) error
	}{
		{"timeline", o.timeline, report.WriteTimeline},
		{"junit", o.junit, report.WriteJUnit},
	} {
		if out.path == "" {
			continue
		}
		if err := writeFileAtomic(out.path, func(w io.Writer) error { return out.write(w, j) }); err != nil {
			return fmt.Errorf("--%s %s: %w", out.flag, out.path, err)
		}
		fmt.Fprintf(stdout, "%s: %s\n", out.flag, out.path)
	}
	return nil
}

// writeFileAtomic writes path through a temporary file in the same
// directory, so a failed render never leaves a half-written file behind.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op once renamed
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// checkOutputPath fails when path (given with flag) could not be written:
// its directory is missing, or it is a directory.
func checkOutputPath(flag, path, example string) error {
	if path == "" {
		return nil
	}
	dir := filepath.Dir(path)
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return fmt.Errorf("%s %s: directory %s does not exist; create it or write the file elsewhere", flag, path, dir)
	}
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return fmt.Errorf("%s %s is a directory; pass a file name such as %s", flag, path, filepath.Join(path, example))
	}
	return nil
}

package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/demohost/demohost/host/journal"
)

// Outputs are the files a run (or `demohost report`) writes. Empty paths
// are not written.
type Outputs struct {
	Journal  string // --report: the JSON journal
	Timeline string // --timeline: the SVG timeline
	JUnit    string // --junit: JUnit XML
}

// Check fails early, before anything runs, if an output could not be
// written: its directory is missing, or it is a directory.
func (o Outputs) Check() error {
	for _, out := range o.list() {
		if err := CheckOutput("--"+out.flag, out.path, out.example); err != nil {
			return err
		}
	}
	return nil
}

// Write writes every output asked for and names each on w.
func (o Outputs) Write(j *journal.Journal, w io.Writer) error {
	for _, out := range o.list() {
		if out.path == "" {
			continue
		}
		if err := WriteFile(out.path, func(f io.Writer) error { return out.write(f, j) }); err != nil {
			return fmt.Errorf("--%s %s: %w", out.flag, out.path, err)
		}
		fmt.Fprintf(w, "%s: %s\n", out.flag, out.path)
	}
	return nil
}

type output struct {
	flag, path, example string
	write               func(io.Writer, *journal.Journal) error
}

func (o Outputs) list() []output {
	return []output{
		{"report", o.Journal, "report.json", func(w io.Writer, j *journal.Journal) error { return j.Encode(w) }},
		{"timeline", o.Timeline, "timeline.svg", WriteTimeline},
		{"junit", o.JUnit, "junit.xml", WriteJUnit},
	}
}

// WriteFile writes path through a temporary file in the same directory, so
// a failed render never leaves a half-written file behind.
func WriteFile(path string, write func(io.Writer) error) error {
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

// CheckOutput fails when path (given with flag, e.g. "--junit") could not
// be written: its directory is missing, or it is a directory.
func CheckOutput(flag, path, example string) error {
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

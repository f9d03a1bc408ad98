package report

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// Check fails early, before anything runs (a run injects nothing until it
// passes), if an output could not be written (see CheckOutput).
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

// WriteFile writes path. A regular file (or a new one) is written through
// a temporary file in the same directory and renamed into place, so a
// failed render never leaves a half-written file behind. Anything else
// that CheckOutput lets through — a device such as /dev/null or a
// terminal — is written through as it is, never replaced by a file.
func WriteFile(path string, write func(io.Writer) error) error {
	if info, err := os.Stat(path); err == nil && !info.Mode().IsRegular() {
		if err := refuseKind(info); err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if err := write(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
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
// be written, with one line that says what to do: its directory is missing
// or not writable (a probe file is created there and removed), it is a
// directory, a named pipe or a socket, or it exists and cannot be opened
// for writing, or a device refuses even an empty write (/dev/full).
func CheckOutput(flag, path, example string) error {
	if path == "" {
		return nil
	}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return checkDir(flag, path)
	case err != nil:
		return fmt.Errorf("%s %s: %v; pass a file you can write", flag, path, reason(err))
	case info.IsDir():
		return fmt.Errorf("%s %s is a directory; pass a file name such as %s", flag, path, filepath.Join(path, example))
	}
	if err := refuseKind(info); err != nil {
		return fmt.Errorf("%s %s %v", flag, path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0) // no O_TRUNC: nothing is lost yet
	if err != nil {
		return fmt.Errorf("%s %s cannot be written (%v); pass a file you can write", flag, path, reason(err))
	}
	defer f.Close()
	if !info.Mode().IsRegular() {
		if _, err := f.Write(nil); err != nil {
			return fmt.Errorf("%s %s refuses writes (%v); pass another file", flag, path, reason(err))
		}
		return nil
	}
	return checkDir(flag, path) // the file is replaced through its directory
}

// refuseKind refuses what a report cannot be written to as a whole file:
// a named pipe (writing would wait for a reader, possibly for ever, after
// the run) and a socket.
func refuseKind(info fs.FileInfo) error {
	switch {
	case info.Mode()&fs.ModeNamedPipe != 0:
		return errors.New("is a named pipe: demohost writes whole files after the run; pass a file name")
	case info.Mode()&fs.ModeSocket != 0:
		return errors.New("is a socket; pass a file name")
	}
	return nil
}

// checkDir checks that a file can be created beside path.
func checkDir(flag, path string) error {
	dir := filepath.Dir(path)
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return fmt.Errorf("%s %s: directory %s does not exist; create it or write the file elsewhere", flag, path, dir)
	}
	probe, err := os.CreateTemp(dir, ".demohost-probe-*")
	if err != nil {
		return fmt.Errorf("%s %s: cannot write in %s (%v); pass a file in a directory you can write", flag, path, dir, reason(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// reason is the system's words for err without the path (the message
// names the flag and the path already).
func reason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

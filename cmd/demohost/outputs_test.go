package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/demohost/demohost/internal/testkit"
)

// sampleJournal is a saved --report journal of a real run.
var sampleJournal = filepath.Join(testkit.Root(), "host", "report", "testdata", "ratelimiter-2m.json")

// deviceNode makes a character device node like /dev/null (1, 3) or
// /dev/full (1, 7) in a temporary directory, so that no test ever points
// demohost at the machine's own /dev.
func deviceNode(t *testing.T, name string, minor int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := syscall.Mknod(p, syscall.S_IFCHR|0o666, 1<<8|minor); err != nil {
		t.Fatalf("mknod %s: %v (these tests make device nodes: run them as root, as .ci/run does)", p, err)
	}
	return p
}

func assertDevice(t *testing.T, p string) {
	t.Helper()
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode()&fs.ModeCharDevice == 0 {
		t.Errorf("%s is now %v, no longer a character device: demohost replaced it", p, info.Mode())
	}
}

// --junit and --timeline onto a device (/dev/null) write through it: the
// device stays a device, as root too.
func TestOutputsOntoADeviceWriteThroughIt(t *testing.T) {
	null := deviceNode(t, "null", 3)
	res := demohost(t, nil, "report", sampleJournal, "--junit", null, "--timeline", null)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	assertDevice(t, null)
	if !strings.Contains(res.stdout, "junit: "+null) {
		t.Errorf("stdout does not name what was written:\n%s", res.stdout)
	}
}

// calledEnv is a scripted plugin whose chapter injects a fault and which
// records every call it gets in the returned file.
func calledEnv(t *testing.T) (env []string, calls string) {
	calls = filepath.Join(t.TempDir(), "calls.txt")
	return scriptedEnv(t, map[string]any{"Name": "skewer", "Faults": []any{clockSkew}, "Calls": calls,
		"Chapters": skewChapters(map[string]any{"Kind": "CLOCK_SKEW", "Duration": int64(200 * time.Millisecond)})}), calls
}

// Outputs that cannot be written are refused at start-up in one line (exit
// 2): the plugin is never started, so nothing is injected and nothing is
// lost at the end of a run. Root cannot write into /proc either.
func TestUnwritableOutputsAreRefusedBeforeAnythingRuns(t *testing.T) {
	plugin := scriptedPlugin(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.xml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	full := deviceNode(t, "full", 7)
	for _, tt := range []struct {
		name  string
		args  []string
		wants []string
	}{
		{"directory it cannot write in", []string{"--report", "/proc/demohost-report.json"}, []string{"--report /proc/demohost-report.json: cannot write in /proc", "pass a file in a directory you can write"}},
		{"device refusing writes", []string{"--junit", full}, []string{"--junit " + full + " refuses writes (no space left on device)", "pass another file"}},
		{"named pipe", []string{"--junit", fifo}, []string{"--junit " + fifo + " is a named pipe", "pass a file name"}},
		{"directory", []string{"--timeline", dir}, []string{"--timeline " + dir + " is a directory", "timeline.svg"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, calls := calledEnv(t)
			res := demohost(t, env, append([]string{"--plugin", plugin, "--plugin-env", "SCRIPTED_SCRIPT", "--headless"}, tt.args...)...)
			assertBadInput(t, res, tt.wants...)
			if b, err := os.ReadFile(calls); err == nil {
				t.Errorf("the plugin was started although an output cannot be written; it was called:\n%s", b)
			}
		})
	}
	if info, err := os.Stat(fifo); err != nil || info.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("the named pipe is gone or replaced: %v %v", info, err)
	}
	assertDevice(t, full)
}

// `demohost report` is bounded on hostile input: an endless file is
// refused at once, and a journal finished in year 9999 renders in moments
// (its time axis is clamped).
func TestReportOfHostileJournalsIsBounded(t *testing.T) {
	year9999 := filepath.Join(t.TempDir(), "9999.json")
	if err := os.WriteFile(year9999, []byte(`{"subject":"x","started_at":"2026-01-01T00:00:00Z","finished_at":"9999-12-31T23:59:59Z",`+
		`"chapters":[{"title":"a","status":"passed","started_at":"2026-01-01T00:00:00Z"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	svg := filepath.Join(t.TempDir(), "t.svg")
	for _, tt := range []struct {
		args  []string
		code  int
		wants []string
	}{
		{[]string{"report", "/dev/zero", "--junit", filepath.Join(t.TempDir(), "j.xml")}, exitUsage, []string{"demohost: read report /dev/zero: not a demohost journal"}},
		{[]string{"report", year9999, "--timeline", svg, "--junit", filepath.Join(t.TempDir(), "j.xml")}, 0, nil},
	} {
		res := demohostWithin(t, 20*time.Second, nil, tt.args...)
		if res.code != tt.code {
			t.Errorf("demohost %v: exit %d; want %d\n%s%s", tt.args, res.code, tt.code, res.stdout, res.stderr)
		}
		for _, w := range tt.wants {
			if !strings.Contains(res.stderr, w) || strings.Count(res.stderr, "\n") != 1 {
				t.Errorf("demohost %v: stderr %q; want one line with %q", tt.args, res.stderr, w)
			}
		}
	}
	if info, err := os.Stat(svg); err != nil || info.Size() > 1<<20 {
		t.Errorf("the year-9999 timeline: %v, %v", info, err)
	}
}

package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A headless run of the real example plugin writes the journal, the
// timeline and the JUnit XML; `demohost report` on the saved journal
// gives byte-identical files.
func TestReportRebuildsWhatTheRunWrote(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", t.TempDir()) // the run's chaos log, not the user's
	plugin := examplePlg                    // built once by TestMain
	path := func(name string) string { return filepath.Join(dir, name) }

	var stdout, stderr bytes.Buffer
	code := run([]string{"--plugin", plugin, "--headless", "--log-file", path("log"),
		"--report", path("r.json"), "--timeline", path("t.svg"), "--junit", path("j.xml")}, &stdout, &stderr)
	if code != exitPassed {
		t.Fatalf("run exited %d: %s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"timeline: " + path("t.svg"), "junit: " + path("j.xml")} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("run output lacks %q:\n%s", want, stdout.String())
		}
	}

	stdout.Reset()
	code = run([]string{"report", path("r.json"), "--timeline", path("t2.svg"), "--junit", path("j2.xml")}, &stdout, &stderr)
	if code != exitPassed {
		t.Fatalf("report exited %d: %s", code, stderr.String())
	}
	for _, pair := range [][2]string{{"t.svg", "t2.svg"}, {"j.xml", "j2.xml"}} {
		first, err1 := os.ReadFile(path(pair[0]))
		again, err2 := os.ReadFile(path(pair[1]))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(first, again) {
			t.Errorf("%s rebuilt from the journal differs from the one the run wrote", pair[0])
		}
		if err := xml.Unmarshal(first, new(struct{})); err != nil {
			t.Errorf("%s is not XML: %v", pair[0], err)
		}
	}
	var suites struct {
		Suite []struct {
			Cases []struct {
				Name string `xml:"name,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	b, _ := os.ReadFile(path("j.xml"))
	if err := xml.Unmarshal(b, &suites); err != nil || len(suites.Suite) != 1 || len(suites.Suite[0].Cases) != 5 {
		t.Errorf("JUnit has %+v (%v), want one suite of the example's 5 chapters", suites, err)
	}
	j, _ := os.ReadFile(path("r.json"))
	if !bytes.Contains(j, []byte(`"evidence"`)) {
		t.Error("the run's journal has no per-injection evidence")
	}
}

func TestReportCommandErrors(t *testing.T) {
	dir := t.TempDir()
	notJournal := filepath.Join(dir, "empty.json")
	if err := os.WriteFile(notJournal, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report"}, "report needs a journal"},
		{[]string{"report", "r.json"}, "nothing to write: pass --timeline"},
		{[]string{"report", "r.json", "extra", "--junit", "j.xml"}, `unexpected argument "extra"`},
		{[]string{"report", "r.json", "--timeline", filepath.Join(dir, "missing", "t.svg")}, "does not exist; create it"},
		{[]string{"report", "r.json", "--junit", dir}, "is a directory"},
		{[]string{"report", filepath.Join(dir, "nope.json"), "--junit", filepath.Join(dir, "j.xml")}, "no such file"},
		{[]string{"report", notJournal, "--timeline", filepath.Join(dir, "t.svg")}, "no timestamps"},
		{[]string{"report", "r.json", "--colour", "x"}, "flag provided but not defined"},
		{[]string{"--plugin", "x", "--headless", "--timeline", filepath.Join(dir, "missing", "t.svg")}, "--timeline"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		msg := stderr.String()
		if code != exitUsage || !strings.Contains(msg, tc.want) || strings.Count(msg, "\n") != 1 {
			t.Errorf("demohost %s: exit %d, stderr %q; want exit 2 and one line containing %q", strings.Join(tc.args, " "), code, msg, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "t.svg")); !os.IsNotExist(err) {
		t.Error("a failed render left a timeline file behind")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".t.svg.*")); len(left) > 0 {
		t.Errorf("a failed render left temporary files: %v", left)
	}
}

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/demohost/demohost/internal/testkit"
)

// shippedJournal is the rate-limiter run recorded in the repository.
var shippedJournal = filepath.Join(testkit.Root(), "recordings", "ratelimiter.json")

func TestReplayCommandErrors(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(testkit.Root(), "host", "report", "testdata", "ratelimiter-recorded.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"replay"}, "replay needs a journal: demohost replay r.json"},
		{[]string{"replay", "a.json", "b.json"}, `unexpected argument "b.json": demohost replay takes one journal`},
		{[]string{"replay", filepath.Join(dir, "nope.json")}, "no such file"},
		{[]string{"replay", old}, "cannot replay " + old + ": it holds no screen record"},
		{[]string{"replay", shippedJournal, "--speed", "3"}, "--speed 3: want 0.5, 1, 2, 4 or 8"},
		{[]string{"replay", shippedJournal, "--size", "100x30"}, "--size sets the size of a --cast recording"},
		{[]string{"replay", shippedJournal, "--cast", filepath.Join(dir, "r.cast"), "--size", "big"}, "--size big: want COLUMNSxROWS"},
		{[]string{"replay", shippedJournal, "--cast", filepath.Join(dir, "missing", "r.cast")}, "does not exist; create it"},
		{[]string{"replay", shippedJournal, "--colour"}, "flag provided but not defined"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		msg := stderr.String()
		if code != exitUsage || !strings.Contains(msg, tc.want) || strings.Count(msg, "\n") != 1 || stdout.Len() > 0 {
			t.Errorf("demohost %s: exit %d, stderr %q; want exit 2 and one line containing %q", strings.Join(tc.args, " "), code, msg, tc.want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) > 0 {
		t.Errorf("failed replays left files: %v", left)
	}
}

// Without a terminal the replay says how to write a recording instead.
func TestReplayWithoutATerminal(t *testing.T) {
	assertBadInput(t, demohost(t, nil, "replay", shippedJournal), "replay needs a terminal", "--cast FILE.cast")
}

// --cast writes an asciicast v2 recording with no terminal and no plugin.
func TestReplayWritesACast(t *testing.T) {
	cast := filepath.Join(t.TempDir(), "demo.cast")
	res := demohost(t, nil, "replay", shippedJournal, "--cast", cast, "--size", "100x30", "--speed", "8")
	if res.code != exitPassed || res.stdout != "cast: "+cast+"\n" || res.stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and the file named", res.code, res.stdout, res.stderr)
	}
	f, err := os.Open(cast)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	lines.Buffer(nil, 1<<20)
	var header struct{ Version, Width, Height int }
	if !lines.Scan() || json.Unmarshal(lines.Bytes(), &header) != nil || header != (struct{ Version, Width, Height int }{2, 100, 30}) {
		t.Fatalf("header %q; want asciicast version 2, 100x30", lines.Text())
	}
	events := 0
	for lines.Scan() {
		events++
	}
	if events < 50 {
		t.Errorf("%d events; want the whole demo", events)
	}
}

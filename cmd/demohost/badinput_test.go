package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/internal/testkit"
)

// assertBadInput checks the bad-input contract: exit 2, nothing on stdout,
// exactly one line on stderr, naming the problem (and the fix) in wants.
func assertBadInput(t *testing.T, res result, wants ...string) {
	t.Helper()
	if res.code != exitUsage {
		t.Errorf("exit code %d; want %d (stderr: %q)", res.code, exitUsage, res.stderr)
	}
	if res.stdout != "" {
		t.Errorf("stdout should be empty, got %q", res.stdout)
	}
	line := strings.TrimSuffix(res.stderr, "\n")
	if line == "" || strings.Contains(line, "\n") || !strings.HasPrefix(line, "demohost: ") {
		t.Fatalf("stderr should be one line starting with \"demohost: \", got %q", res.stderr)
	}
	for _, w := range wants {
		if !strings.Contains(line, w) {
			t.Errorf("error line %q should contain %q", line, w)
		}
	}
}

func TestBadInput(t *testing.T) {
	emptyDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(emptyDir, "notes.txt"), []byte("no plugin here"), 0o644); err != nil {
		t.Fatal(err)
	}
	notExec := filepath.Join(t.TempDir(), "demohost-plain")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	junk := script(t, "junk", `echo "hello, I am not a plugin"`)
	missingReportDir := filepath.Join(t.TempDir(), "nope", "r.json")

	tests := []struct {
		name  string
		env   []string
		args  []string
		wants []string
	}{
		{"no plugin flag", nil, []string{"--headless"}, []string{"no plugin given", "--plugin PATH"}},
		{"missing path", nil, []string{"--plugin", "./does-not-exist", "--headless"}, []string{"./does-not-exist does not exist", "make build"}},
		{"bare name not on the search path", []string{"DEMOHOST_PLUGIN_PATH=" + emptyDir}, []string{"describe", "--plugin", "nosuch"}, []string{`"nosuch" not found`, "DEMOHOST_PLUGIN_PATH"}},
		{"directory with no plugin", nil, []string{"--plugin", emptyDir, "--headless"}, []string{"no plugin executable in directory " + emptyDir, "make build"}},
		{"file not executable", nil, []string{"--plugin", notExec, "--headless"}, []string{"is not executable", "chmod +x"}},
		{"/bin/true is not a plugin", nil, []string{"--plugin", "/bin/true", "--headless"}, []string{"/bin/true is not a demohost plugin", "exited without the plugin handshake", "sdk.Serve"}},
		{"script printing junk", nil, []string{"--plugin", junk, "--headless"}, []string{"is not a demohost plugin", `printed "hello, I am not a plugin"`, "sdk.Serve"}},
		{"other protocol version", nil, []string{"--plugin", protocol1, "--headless"}, []string{"speaks demohost protocol 1", "this demohost speaks protocol 2", "rebuild the plugin"}},
		{"unknown --set key", nil, []string{"--plugin", examplePlg, "--headless", "--set", "colour=blue"}, []string{`unknown option "colour": known options are nodes, detect_after, countdown, target`}},
		{"bad --set value", nil, []string{"--plugin", examplePlg, "--headless", "--set", "nodes=many"}, []string{`option nodes="many": want a whole number`}},
		{"value the subject refuses", nil, []string{"describe", "--plugin", examplePlg, "--set", "nodes=500"}, []string{"option nodes=500: want 1 to 100"}},
		{"--set without =", nil, []string{"--plugin", examplePlg, "--headless", "--set", "nodes"}, []string{"want key=value"}},
		{"invalid chapter list", nil, []string{"--plugin", badChapters, "--headless"}, []string{"invalid chapter list", `chapter 1 ("Pause Redis"): fault kind REDIS_PAUSE is not declared by badchapters (it declares NODE_KILL)`, "fix its Chapters"}},
		{"TUI without a terminal", nil, []string{"--plugin", examplePlg}, []string{"the UI needs a terminal; run with --headless (and --report FILE for a JSON journal)"}},
		{"malformed --plugin-sha256", nil, []string{"--plugin", examplePlg, "--headless", "--plugin-sha256", "xyz"}, []string{"is not a SHA-256 in hex", "sha256sum"}},
		{"unknown flag", nil, []string{"--plugin", examplePlg, "--colour"}, []string{"flag provided but not defined: -colour", "demohost --help"}},
		{"stray argument", nil, []string{"--plugin", examplePlg, "extra"}, []string{`unexpected argument "extra"`}},
		{"plugin without --plugin", nil, []string{"describe", "./plugins/example"}, []string{`unexpected argument "./plugins/example": name the plugin with --plugin ./plugins/example`}},
		{"report directory missing", nil, []string{"--plugin", examplePlg, "--headless", "--report", missingReportDir}, []string{"does not exist; create it"}},
		{"bad start timeout", []string{"DEMOHOST_START_TIMEOUT=soon"}, []string{"describe", "--plugin", examplePlg}, []string{`DEMOHOST_START_TIMEOUT="soon": want a positive duration`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertBadInput(t, demohost(t, tt.env, tt.args...), tt.wants...)
		})
	}
}

// A plugin that never finishes the handshake is given up after the start
// timeout, and killed.
func TestHandshakeTimeout(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	hang := script(t, "hang", "echo $$ > "+pidFile+"\nexec sleep 60")
	res := demohost(t, []string{"DEMOHOST_START_TIMEOUT=500ms"}, "--plugin", hang, "--headless")
	assertBadInput(t, res, "did not finish the handshake within 500ms", "sdk.Serve")
	if res.took > 20*time.Second {
		t.Errorf("giving up took %s; want about the 500ms timeout", res.took)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	testkit.WaitFor(t, 5*time.Second, "the hung plugin to be killed", func() bool {
		return exited(pid)
	})
}

// With a wrong --plugin-sha256 the plugin never runs.
func TestPinnedHashMismatchNeverStartsThePlugin(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "started")
	plugin := script(t, "demohost-pinned", "touch "+marker+"\nexec "+examplePlg)
	res := demohost(t, nil, "--plugin", plugin, "--headless", "--plugin-sha256", strings.Repeat("ab", 32))
	b, _ := os.ReadFile(plugin)
	sum := sha256.Sum256(b)
	assertBadInput(t, res, "does not match --plugin-sha256", "its SHA-256 is "+hex.EncodeToString(sum[:]), "not started")
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the plugin ran although its hash did not match")
	}

	// The right hash lets it run.
	res = demohost(t, nil, "describe", "--plugin", plugin, "--plugin-sha256", hex.EncodeToString(sum[:]))
	if res.code != 0 {
		t.Fatalf("describe with the right hash: exit %d, %s", res.code, res.stderr)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("the plugin did not run with the right hash")
	}
}

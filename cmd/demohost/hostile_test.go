package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/demohost/demohost/host/sanitize"
	"github.com/demohost/demohost/internal/testkit"
)

// hostilePlugin builds internal/testplugins/hostile once: every string it
// gives the host carries escape sequences, control characters, a
// right-to-left override and line breaks.
func hostilePlugin(t *testing.T) string { return builtOnce(t, "hostile", testkit.HostilePlugin) }

// assertClean fails when text (what demohost wrote to where) holds
// anything of the hostile plugin's attack: an escape, a control character
// other than a line break, an 8-bit control, a bidirectional override, or
// the body of an escape sequence (the window title, a clear-screen).
func assertClean(t *testing.T, where, text string) {
	t.Helper()
	for _, bad := range []string{"\x1b", "\a", "\b", "\u009b", "\u202e", "PWNED", "[2J", "[31m"} {
		if i := strings.Index(text, bad); i >= 0 {
			t.Errorf("%s holds %q: …%q…", where, bad, text[max(0, i-40):min(len(text), i+40)])
		}
	}
	for _, r := range text {
		if r < ' ' && r != '\n' && r != '\t' || r == 0x7f {
			t.Errorf("%s holds control character %U", where, r)
			break
		}
	}
}

// Every line the hostile plugin's multi-line text ends up on holds both its
// lines: no plugin string breaks demohost's lines.
func assertOneLine(t *testing.T, where, text string) {
	t.Helper()
	if !strings.Contains(text, `\u202eevil second line`) {
		t.Errorf("%s does not show the plugin's text as one line (escaped override, then both lines):\n%s", where, text)
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "second line") {
			t.Errorf("%s has a line the plugin's line break started: %q", where, l)
		}
	}
}

func TestHostilePluginTextIsSanitisedInDescribe(t *testing.T) {
	res := demohost(t, nil, "describe", "--plugin", hostilePlugin(t))
	if res.code != 0 {
		t.Fatalf("describe: exit %d\n%s", res.code, res.stderr)
	}
	assertClean(t, "describe's output", res.stdout)
	assertOneLine(t, "describe's output", res.stdout)
	for _, want := range []string{"hostile 6.6.6 red", "GLITCH  does nothing, says a lot red", "1. Title red", "expect: node-1 stays up red"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("describe lacks %q:\n%s", want, res.stdout)
		}
	}
}

// A headless run: progress, the summary, the error lines, the JUnit XML and
// the SVG timeline are all clean; both XML files are well-formed.
func TestHostilePluginTextIsSanitisedInARun(t *testing.T) {
	dir := t.TempDir()
	report, junit, svg := filepath.Join(dir, "r.json"), filepath.Join(dir, "j.xml"), filepath.Join(dir, "t.svg")
	res := demohost(t, nil, "--plugin", hostilePlugin(t), "--headless", "--set", "mode=teardown",
		"--report", report, "--junit", junit, "--timeline", svg)
	if res.code != exitUsage { // the teardown fails
		t.Fatalf("exit %d; want 2\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	assertClean(t, "stdout", res.stdout)
	assertClean(t, "stderr", res.stderr)
	assertOneLine(t, "stdout", res.stdout)
	for _, want := range []string{
		"chaos  injected glitch red", "error  chapter 1 failed: its on-enter action: the action failed red",
		"chapter 1/2 failed  Title red", "chapter 1 unmet: a violation that never comes red",
		// A Teardown error over several lines, in the plugin's words (no
		// gRPC framing), on one line.
		"error  teardown: teardown failed: step 1: red\\x07\\x08\\u202eevil second line step 2: gave up",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
		}
	}
	if lines := strings.Split(strings.TrimSpace(res.stderr), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "demohost: plugin error: teardown: teardown failed: step 1: red") ||
		strings.Contains(res.stderr, "rpc error") || strings.Contains(res.stderr, "desc =") {
		t.Errorf("stderr is not the one line of the teardown error in the plugin's words:\n%s", res.stderr)
	}
	for _, f := range []string{junit, svg} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		assertClean(t, f, string(b))
		if err := testkit.WellFormedXML(b); err != nil {
			t.Errorf("%s is not well-formed XML: %v", f, err)
		}
	}
}

// A value the plugin refuses and echoes back, 100 KB long, over several
// lines: demohost says it in one line, cut in the middle, with the
// plugin's advice at its end.
func TestOverLongRefusalIsOneCutLine(t *testing.T) {
	long := strings.Repeat("x", 100*1024)
	res := demohost(t, nil, "--plugin", hostilePlugin(t), "--headless", "--set", "mode=refuse", "--set", "echo="+long)
	assertBadInput(t, res, `option echo="xxx`, "…", "set echo to something shorter")
	assertClean(t, "stderr", res.stderr)
	if n := utf8.RuneCountInString(strings.TrimSpace(res.stderr)); n > len("demohost: ")+sanitize.MaxError {
		t.Errorf("the error line has %d characters; want it cut to about %d", n, sanitize.MaxError)
	}
}

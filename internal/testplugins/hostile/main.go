// Command hostile is a test plugin that tries to reach the user's terminal
// and reports through what it says: every string it hands the host — its
// description, options, chapters, progress and status lines, fault lines,
// health, errors — carries escape sequences (clear the screen, set the
// window title, colours), control characters, a bidirectional override and
// line breaks. Tests run demohost against it and check that none of it
// reaches stdout, stderr, the journal's renderings or describe's output.
//
// Options select what else it does (see Describe).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/demohost/demohost/sdk"
)

// Evil is what every string carries: an OSC that sets the window title, a
// clear-screen and a home, a colour, a bell, a backspace, an 8-bit CSI, a
// right-to-left override and a line break.
const Evil = "\x1b]0;PWNED\x07\x1b[2J\x1b[H\x1b[31mred\x1b[0m\x07\b\u009b2J\u202eevil\n second line"

func evil(s string) string { return s + " " + Evil }

type hostile struct {
	mu   sync.Mutex
	opts sdk.Options
}

func (*hostile) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name: "hostile", Version: evil("6.6.6"), Description: evil("a plugin that attacks the terminal"),
		Options: []sdk.Option{
			{Name: "mode", Type: sdk.Enum, Default: "text", Choices: []string{"text", "refuse", "teardown"},
				Help: evil("text: hostile text everywhere; refuse: Configure refuses, echoing echo back; teardown: Teardown fails over several lines")},
			{Name: "echo", Type: sdk.String, Default: "", Help: evil("a value Configure echoes back in mode refuse")},
			{Name: "narration_bytes", Type: sdk.Int, Default: "0", Help: "pad the narration to this size"},
			{Name: "probe", Type: sdk.String, Default: "", Help: "at Configure, write escape sequences to fd 0 and to /dev/tty, and write how that went and the environment to this file"},
		},
		Faults: []sdk.FaultKind{{Kind: "GLITCH", Description: evil("does nothing, says a lot"), Target: evil("anything"),
			Params: []sdk.Option{{Name: "level", Type: sdk.String, Default: evil("max"), Help: evil("how much")}}}},
	}, nil
}

func (h *hostile) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.opts = req.Options
	if p := req.Options.String("probe"); p != "" {
		probe(p)
	}
	if req.Options.String("mode") == "refuse" {
		return fmt.Errorf("option echo=%q is refused:\n%s\nset echo to something shorter", req.Options.String("echo"), Evil)
	}
	return nil
}

func (h *hostile) Chapters(context.Context) ([]sdk.Chapter, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	narration := evil("*bold* narration")
	if n := h.opts.Int("narration_bytes"); n > len(narration) {
		narration += strings.Repeat(" word", (n-len(narration))/5)
	}
	return []sdk.Chapter{
		{ID: "one", Title: evil("Title"), Narration: narration, KeyHint: evil("space: go"),
			Fault:  &sdk.Fault{Kind: "GLITCH", Name: evil("glitch"), Target: "node-1", Description: evil("glitch it"), Duration: 200 * time.Millisecond},
			Action: action,
			Expectations: []sdk.Expectation{
				withDescription(sdk.Eventually(sdk.NodeIs("node-1", sdk.Up), 5*time.Second), evil("node-1 stays up")),
				withDescription(sdk.Eventually(sdk.ViolationPresent("never_raised"), 300*time.Millisecond), evil("a violation that never comes")),
			}},
		{ID: "two", Title: evil("Second")},
	}, nil
}

func withDescription(e sdk.Expectation, d string) sdk.Expectation {
	e.Description = d
	return e
}

func action(_ context.Context, status sdk.Progress) error {
	status.Warning(evil("status line"))
	return errors.New(evil("the action failed"))
}

func (*hostile) Setup(_ context.Context, req sdk.SetupRequest) error {
	req.Progress.Info(evil("setting up"))
	return nil
}

func (h *hostile) Teardown(_ context.Context, req sdk.TeardownRequest) error {
	req.Progress.Info(evil("tearing down"))
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.opts.String("mode") == "teardown" {
		return errors.New("teardown failed:\n  step 1: " + Evil + "\n  step 2: gave up")
	}
	return nil
}

func (*hostile) InjectChaos(_ context.Context, req sdk.InjectRequest) (sdk.Injected, error) {
	return sdk.Injected{Handle: "glitch", Target: req.Fault.Target, Detail: evil("injected")}, nil
}

func (*hostile) RevertChaos(context.Context, sdk.RevertRequest) (sdk.Reverted, error) {
	return sdk.Reverted{Detail: evil("reverted")}, nil
}

func (*hostile) Health(context.Context) (sdk.HealthSnapshot, error) {
	return sdk.HealthSnapshot{
		Nodes:   []sdk.Node{{ID: "node-1", Name: evil("name"), Role: evil("role"), State: sdk.Up, Address: evil("addr"), Detail: evil("detail")}},
		Metrics: []sdk.Metric{{Name: evil("metric"), Value: 1, Unit: evil("unit")}},
		Violations: []sdk.Violation{{Invariant: "hostile_text", Severity: sdk.Warning, Target: evil("target"), Message: evil("message"),
			Since: time.Now().Add(-time.Second)}},
	}, nil
}

// probe tries to reach the terminal through fd 0 and /dev/tty, and writes
// to path how that went, whether it leads a session of its own, and its
// environment, one line each: "stdin: ...", "tty: ...", "session leader:
// true", "env: NAME=VALUE".
func probe(path string) {
	attack := []byte("\x1b]0;PWNED\x07\x1b[2J")
	var b strings.Builder
	_, err := os.Stdin.Write(attack)
	fmt.Fprintf(&b, "stdin: %s\n", result(err))
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err == nil {
		_, err = tty.Write(attack)
		tty.Close()
	}
	fmt.Fprintf(&b, "tty: %s\n", result(err))
	sid, _ := unix.Getsid(0)
	fmt.Fprintf(&b, "session leader: %v\n", sid == os.Getpid())
	for _, kv := range os.Environ() {
		fmt.Fprintf(&b, "env: %s\n", kv)
	}
	_ = os.WriteFile(path, []byte(b.String()), 0o600)
}

func result(err error) string {
	if err != nil {
		return "refused: " + err.Error()
	}
	return "written"
}

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "hostile: a demohost test plugin; run it with demohost --plugin")
		os.Exit(2)
	}
	sdk.Serve(&hostile{})
}

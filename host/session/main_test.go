package session_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/demohost/demohost/host/headless"
	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/session"
	"github.com/demohost/demohost/internal/testkit"
)

// Plugins built once by TestMain; the tests drive the lifecycle in-process
// against them as real plugin processes.
var (
	examplePlg   string // the example subject
	scriptedPlg  string // internal/testplugins/scripted
	slowTeardown string // cmd/demohost/testdata/slowteardown
	handshakePlg string // internal/testplugins/handshake
)

func TestMain(m *testing.M) {
	testkit.MainWithBuiltAll(m, map[*string]string{
		&examplePlg:   testkit.ExamplePlugin,
		&scriptedPlg:  testkit.ScriptedPlugin,
		&slowTeardown: "cmd/demohost/testdata/slowteardown",
		&handshakePlg: "internal/testplugins/handshake",
	})
}

// open opens a session on plugin with the --set options, its log in a
// temporary file; it is closed when the test ends.
func open(t *testing.T, plugin string, set map[string]string) (*session.Session, string) {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), "demohost.log")
	s, err := session.Open(session.Config{Plugin: plugin, Set: set, LogFile: logFile, PluginEnv: pluginEnv})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, logFile
}

// midChaos keeps the example on its kill chapter with the fault active:
// node_down comes only after a minute.
var midChaos = map[string]string{"countdown": "0s", "detect_after": "1m", "target": "node-2"}

// fast runs the whole example in a few seconds.
var fast = map[string]string{"countdown": "0s", "detect_after": "100ms", "target": "node-2"}

// tuned is the runner tuning of every test: quick health and dwell.
var tuned = runner.Config{HealthInterval: 50 * time.Millisecond, Dwell: 50 * time.Millisecond, RPCTimeout: 5 * time.Second, SetupTimeout: 10 * time.Second}

// watching is the headless view, with each snapshot also handed to
// onSnapshot (on a goroutine of its own) so a test can act mid-run.
func watching(w io.Writer, onSnapshot func(runner.Snapshot)) session.View {
	return func(ctx context.Context, r *runner.Runner) (*journal.Journal, error) {
		snaps, unsubscribe := r.Subscribe()
		defer unsubscribe()
		go func() {
			for s := range snaps {
				onSnapshot(s)
			}
		}()
		return headless.View(w)(ctx, r)
	}
}

// faultActive returns a channel closed at the first snapshot with a fault
// active, and the callback that closes it.
func faultActive() (<-chan struct{}, func(runner.Snapshot)) {
	ch := make(chan struct{})
	var once onceCloser
	return ch, func(s runner.Snapshot) {
		if len(s.Chaos) > 0 {
			once.close(ch)
		}
	}
}

// runAsync runs s in the background; wait returns its outcome.
func runAsync(t *testing.T, s *session.Session, opts session.RunOptions) (wait func() session.Outcome) {
	t.Helper()
	done := make(chan session.Outcome, 1)
	go func() { done <- s.Run(context.Background(), opts) }()
	return func() session.Outcome {
		t.Helper()
		select {
		case out := <-done:
			return out
		case <-time.After(60 * time.Second):
			t.Fatal("Run did not return within a minute")
			return session.Outcome{}
		}
	}
}

// waitClosed fails the test unless ch is closed within 30s.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// onceCloser closes a channel once, however often it is asked to.
type onceCloser struct{ once sync.Once }

func (o *onceCloser) close(ch chan struct{}) { o.once.Do(func() { close(ch) }) }

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool { return !testkit.ProcessEnded(pid) }

// onlyPID is the one live process running path.
func onlyPID(t *testing.T, path string) int {
	t.Helper()
	ps := testkit.ProcessesOf(path)
	if len(ps) != 1 {
		t.Fatalf("want one process of %s, found %v", path, ps)
	}
	return ps[0]
}

// assertNoPlugin waits for every process running path to be gone.
func assertNoPlugin(t *testing.T, path string) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, "no plugin process left", func() bool { return len(testkit.ProcessesOf(path)) == 0 })
}

// files lists dir's entries.
func files(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// pluginEnv is what the test plugins read from their environment, passed
// to them as --plugin-env passes it (no other variable of the host's
// environment reaches a plugin).
var pluginEnv = []string{"SCRIPTED_SCRIPT", "HANDSHAKE_FAULT"}

// script writes a scripted plugin's script and points the plugin at it
// (through pluginEnv). It returns the file its calls are recorded in.
func script(t *testing.T, s map[string]any) (calls string) {
	t.Helper()
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls.txt")
	s["Calls"] = calls
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "script.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SCRIPTED_SCRIPT", path)
	return calls
}

// call is one line of a scripted plugin's calls file.
type call struct {
	name   string
	pid    int
	handle string
}

func readCalls(t *testing.T, path string) []call {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []call
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		c := call{name: f[0]}
		c.pid, _ = strconv.Atoi(f[1])
		if len(f) > 2 {
			c.handle = f[2]
		}
		out = append(out, c)
	}
	return out
}

// callsBy lists the names of the calls process pid received, in order.
func callsBy(calls []call, pid int) string {
	var names []string
	for _, c := range calls {
		if c.pid == pid {
			names = append(names, c.name)
		}
	}
	return strings.Join(names, " ")
}

// freeze is a scripted subject with one fault kind of its own; its chapter
// injects it and then waits (up to 30s) for a violation that never comes.
func freeze(withFault bool) map[string]any {
	chapter := map[string]any{"ID": "wait", "Title": "Wait",
		"Expectations": []map[string]any{{"Check": map[string]any{"Kind": 1, "Invariant": "never"}, "Within": int64(30 * time.Second)}}}
	if withFault {
		chapter["Fault"] = map[string]any{"Kind": "FREEZE", "Name": "freeze node-1"}
	}
	return map[string]any{"Name": "frozen", "Faults": []map[string]any{{"Kind": "FREEZE", "Description": "freeze a node"}},
		"Chapters": []map[string]any{chapter}}
}

func hasEvent(j *journal.Journal, kind, text string) bool {
	for _, e := range j.Events {
		if e.Kind == kind && strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/internal/testkit"
)

// scriptedPlugin builds the scripted test plugin once.
func scriptedPlugin(t *testing.T) string { return builtOnce(t, "scripted", testkit.ScriptedPlugin) }

var (
	builtMu sync.Mutex
	built   = map[string]*builtBinary{}
)

type builtBinary struct {
	once sync.Once
	path string
	err  error
}

// builtOnce builds the main package pkg (see testkit.GoBuild) as name the
// first time a test asks for it, and returns its path.
func builtOnce(t *testing.T, name, pkg string) string {
	t.Helper()
	builtMu.Lock()
	b := built[pkg]
	if b == nil {
		b = &builtBinary{}
		built[pkg] = b
	}
	builtMu.Unlock()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", name+"-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, name)
		b.err = testkit.GoBuild(b.path, pkg)
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// scriptedEnv writes a scripted plugin's script; the returned environment
// points the plugin at it (pass it on with --plugin-env SCRIPTED_SCRIPT).
func scriptedEnv(t *testing.T, s map[string]any) []string {
	t.Helper()
	dir := t.TempDir()
	s["Ledger"] = filepath.Join(dir, "ledger.txt")
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "script.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"SCRIPTED_SCRIPT=" + path}
}

// clockSkew is a fault kind no part of demohost has heard of, with a
// parameter.
var clockSkew = map[string]any{
	"Kind": "CLOCK_SKEW", "Description": "skew one node's clock", "Target": "a node id",
	"Params": []map[string]any{{"Name": "skew", "Type": 3, "Default": "1s", "Help": "how far"}},
}

func skewChapters(fault map[string]any) []map[string]any {
	return []map[string]any{
		{"Title": "calm"},
		{"Title": "skew the clock", "Fault": fault,
			"Expectations": []map[string]any{{"Mode": 1, "Check": map[string]any{"Kind": 2}, "WhileFault": true}}},
		{"Title": "done"},
	}
}

// A plugin declaring a fault kind the host never heard of, with a
// parameter, runs headless end to end: the host checks the chapter against
// the declaration, the plugin receives the parameter, and events and the
// journal name the kind, the parameter and the plugin's revert line.
func TestUndeclaredToTheHostFaultKindRunsEndToEnd(t *testing.T) {
	plugin := scriptedPlugin(t)
	env := scriptedEnv(t, map[string]any{"Name": "skewer", "Faults": []any{clockSkew},
		"Chapters": skewChapters(map[string]any{"Kind": "CLOCK_SKEW", "Name": "skew node-1", "Params": map[string]string{"skew": "5s"}, "Duration": int64(500 * time.Millisecond)})})
	report := filepath.Join(t.TempDir(), "r.json")
	res := demohost(t, env, "--plugin", plugin, "--plugin-env", "SCRIPTED_SCRIPT", "--headless", "--report", report)
	if res.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"injected skew node-1 (CLOCK_SKEW, skew=5s) on node-1", "reverted skew node-1 (CLOCK_SKEW, skew=5s) on node-1 (duration): undid CLOCK_SKEW on node-1"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
		}
	}
	j, err := journal.Read(report)
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Chaos) != 1 || j.Chaos[0].Type != "CLOCK_SKEW" || j.Chaos[0].Params["skew"] != "5s" || j.Chaos[0].RevertDetail != "undid CLOCK_SKEW on node-1" {
		t.Errorf("journal chaos = %+v", j.Chaos)
	}
	raw, _ := os.ReadFile(report)
	if strings.Contains(string(raw), "CLOCK_SKEW@") {
		t.Errorf("the journal shows a raw handle:\n%s", raw)
	}
}

func TestUndeclaredFaultKindsAndParametersAreRefused(t *testing.T) {
	plugin := scriptedPlugin(t)
	for _, tt := range []struct {
		name  string
		fault map[string]any
		want  string
	}{
		{"kind", map[string]any{"Kind": "DISK_FULL"},
			`demohost: plugin ` + plugin + ` returned an invalid chapter list: chapter 2 ("skew the clock"): fault kind DISK_FULL is not declared by skewer (it declares CLOCK_SKEW); fix its Chapters`},
		{"parameter", map[string]any{"Kind": "CLOCK_SKEW", "Params": map[string]string{"drift": "5s"}},
			`demohost: plugin ` + plugin + ` returned an invalid chapter list: chapter 2 ("skew the clock"): fault CLOCK_SKEW: unknown parameter "drift": known parameters are skew (fault CLOCK_SKEW takes skew); fix its Chapters`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fault := tt.fault
			fault["Duration"] = int64(time.Second)
			env := scriptedEnv(t, map[string]any{"Name": "skewer", "Faults": []any{clockSkew}, "Chapters": skewChapters(fault)})
			res := demohost(t, env, "--plugin", plugin, "--plugin-env", "SCRIPTED_SCRIPT", "--headless")
			if res.code != 2 || strings.TrimSpace(res.stderr) != tt.want {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and:\n%s", res.code, res.stderr, tt.want)
			}
			ledger, _ := os.ReadFile(filepath.Join(filepath.Dir(strings.TrimPrefix(env[0], "SCRIPTED_SCRIPT=")), "ledger.txt"))
			if len(ledger) != 0 {
				t.Errorf("the plugin was asked to inject although the chapters were refused:\n%s", ledger)
			}
		})
	}
}

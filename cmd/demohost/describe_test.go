package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "demohost.log")
	pluginDir := filepath.Dir(examplePlg)
	runs := map[string][]string{
		"executable":            {"describe", "--plugin", examplePlg, "--log-file", logFile},
		"directory holding one": {"describe", "--plugin", pluginDir},
		"bare name on the path": {"describe", "--plugin", "example"},
	}
	for name, args := range runs {
		t.Run(name, func(t *testing.T) {
			res := demohost(t, []string{"DEMOHOST_PLUGIN_PATH=" + filepath.Dir(pluginDir)}, args...)
			if res.code != 0 || res.stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing (plugin output belongs in the log)", res.code, res.stderr)
			}
			for _, want := range []string{
				"example 2.0.0",
				"plugin: " + examplePlg,
				"Faults:\n  NODE_KILL  mark in-memory nodes dead; revert brings them back",
				"count  int  default 1  how many nodes to kill", // the fault's parameter
				"nodes         int       default 3      how many nodes the cluster has (1-100)",
				"target        string    default \"\"     node to kill",
				"3. Kill a node  [blocks advance]",
				`fault:  NODE_KILL "kill one node" on a target the plugin picks (count=1) after a 3s countdown, until reverted`,
				"expect: violation node_down present within 10s",
				"revert: every fault still active",
				"5. Done",
			} {
				if !strings.Contains(res.stdout, want) {
					t.Errorf("describe output lacks %q:\n%s", want, res.stdout)
				}
			}
		})
	}
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "plugin started") || !strings.Contains(string(b), "demohost-example") {
		t.Errorf("the log file does not record the plugin:\n%s", b)
	}
}

func TestDescribeShowsOptionsApplied(t *testing.T) {
	res := demohost(t, nil, "describe", "--plugin", examplePlg, "--set", "countdown=5s", "--set", "target=node-2")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if want := `NODE_KILL "kill one node" on node-2 (count=1) after a 5s countdown`; !strings.Contains(res.stdout, want) {
		t.Errorf("describe with --set lacks %q:\n%s", want, res.stdout)
	}
}

func TestHelp(t *testing.T) {
	res := demohost(t, nil, "--help")
	if res.code != 0 || !strings.Contains(res.stdout, "demohost describe --plugin PATH") {
		t.Fatalf("--help: exit %d, stdout %q", res.code, res.stdout)
	}
}

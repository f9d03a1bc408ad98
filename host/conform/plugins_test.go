package conform_test

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/host/conform"
	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/internal/testkit"
)

// Every plugin in the repository conforms: `demohost conform` exits 0
// against each directory under plugins/, so a new plugin is covered the
// day it lands. A plugin is plugins/NAME/cmd/demohost-NAME (a Go main in
// the plugin's own module), or else the executable demohost finds in
// plugins/NAME. A plugin that needs something running first has a
// conform fixture (see startFixture).
func TestEveryPluginConforms(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(testkit.Root(), "plugins", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			continue
		}
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			exe := pluginExecutable(t, dir, name)
			args := append([]string{"conform", "--plugin", exe}, startFixture(t, dir, name)...)
			r := demohost(t, nil, args...)
			if r.code != 0 {
				t.Errorf("demohost %s: exit %d, want 0; stderr %q\n%s", strings.Join(args, " "), r.code, r.stderr, r.stdout)
			}
			for c, st := range r.statuses {
				if st == conform.Warn {
					t.Logf("plugins/%s: warning on check %q (see the output)", name, c)
				}
			}
			t.Log(lastLine(r.stdout))
			r.noChaosLogLeft(t)
		})
	}
}

// pluginExecutable builds or finds the plugin of plugins/NAME.
func pluginExecutable(t *testing.T, dir, name string) string {
	t.Helper()
	main := filepath.Join("plugins", name, "cmd", "demohost-"+name)
	if _, err := os.Stat(filepath.Join(testkit.Root(), main)); err == nil {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
			t.Fatalf("plugins/%s has a Go command but no go.mod: a plugin is a module of its own (see plugins/example)", name)
		}
		exe := filepath.Join(t.TempDir(), "demohost-"+name)
		if err := testkit.GoBuild(exe, main); err != nil {
			t.Fatal(err)
		}
		return exe
	}
	exe, err := pluginhost.Resolve(dir, nil)
	if err != nil {
		t.Fatalf("plugins/%s: %v (a plugin directory holds cmd/demohost-%s or an executable demohost-%s)", name, err, name, name)
	}
	return exe
}

// startFixture starts what plugins/NAME needs running for conform, if it
// has a conform fixture: cmd/conform-fixture (a Go main in the plugin's
// module) or an executable conform-fixture. A fixture prints the arguments
// conform needs, one per line ("--set key=value", "--recover-within 1m"),
// then the line "ready"; it keeps what it started until its stdin closes,
// then removes it and exits. It runs in the plugin's directory. One that
// cannot start says why on stderr and exits non-zero. It returns the
// arguments.
func startFixture(t *testing.T, dir, name string) []string {
	t.Helper()
	exe := filepath.Join(dir, "conform-fixture")
	if main := filepath.Join("plugins", name, "cmd", "conform-fixture"); exists(filepath.Join(testkit.Root(), main)) {
		exe = filepath.Join(t.TempDir(), "conform-fixture")
		if err := testkit.GoBuild(exe, main); err != nil {
			t.Fatal(err)
		}
	} else if !exists(exe) {
		return nil
	}
	cmd := exec.Command(exe)
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		stdin.Close() // the fixture removes what it started
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("plugins/%s conform fixture: %v: %s", name, err, stderr.String())
			}
		case <-time.After(2 * time.Minute):
			_ = cmd.Process.Kill()
			t.Errorf("plugins/%s conform fixture did not exit within 2 minutes of its stdin closing", name)
		}
	})
	lines := make(chan []string, 1)
	go func() {
		var args []string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "ready" {
				lines <- args
				_, _ = io.Copy(io.Discard, stdout)
				break
			}
			flag, value, _ := strings.Cut(line, " ")
			args = append(args, flag, value)
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	select {
	case args, ok := <-lines:
		if !ok {
			t.Fatalf("plugins/%s conform fixture ended before it was ready: %s", name, strings.TrimSpace(stderr.String()))
		}
		return args
	case <-time.After(5 * time.Minute):
		t.Fatalf("plugins/%s conform fixture was not ready within 5 minutes: %s", name, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, os.ErrNotExist)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

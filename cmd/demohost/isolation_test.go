package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: what demohost sees as the user's
// terminal (slave) and what the user's terminal emulator reads (master).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}

// probeLines runs `demohost describe` on the hostile plugin, which writes
// what it could do at Configure to a file, and returns those lines.
func probeLines(t *testing.T, cmd *exec.Cmd, probe string) string {
	t.Helper()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("demohost %v: %v\n%s", cmd.Args[1:], err, out)
	}
	b, err := os.ReadFile(probe)
	if err != nil {
		t.Fatalf("the plugin wrote no probe: %v", err)
	}
	return string(b)
}

// The plugin gets no terminal: demohost runs in a terminal (its stdin, and
// its controlling terminal), yet the plugin's writes to fd 0 and to
// /dev/tty fail and nothing of them reaches the terminal; the plugin leads
// a session of its own.
func TestPluginGetsNoTerminal(t *testing.T) {
	master, slave := openPTY(t)
	probe := filepath.Join(t.TempDir(), "probe")
	cmd := exec.Command(demohostBin, "describe", "--plugin", hostilePlugin(t), "--set", "probe="+probe)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	cmd.Stdin = slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0} // the terminal is demohost's
	got := probeLines(t, cmd, probe)
	for _, want := range []string{"stdin: refused", "tty: refused", "session leader: true"} {
		if !strings.Contains(got, want) {
			t.Errorf("the plugin's probe lacks %q:\n%s", want, firstLines(got, 3))
		}
	}
	// Everything written to the terminal so far comes before this mark.
	if _, err := slave.WriteString("END-OF-TEST\n"); err != nil {
		t.Fatal(err)
	}
	var screen strings.Builder
	r := bufio.NewReader(master)
	for !strings.Contains(screen.String(), "END-OF-TEST") {
		line, err := r.ReadString('\n')
		screen.WriteString(line)
		if err != nil {
			t.Fatalf("reading the terminal: %v (so far %q)", err, screen.String())
		}
	}
	if s := screen.String(); strings.Contains(s, "PWNED") || strings.Contains(s, "\x1b") {
		t.Errorf("the plugin reached the terminal: %q", s)
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

// The plugin's environment is chosen, not inherited: PATH, HOME, locale,
// XDG and DOCKER_* variables and the proxies pass; a token in the host's
// environment does not, unless the user names it with --plugin-env.
func TestPluginEnvironmentIsChosen(t *testing.T) {
	for _, named := range []bool{false, true} {
		probe := filepath.Join(t.TempDir(), "probe")
		args := []string{"describe", "--plugin", hostilePlugin(t), "--set", "probe=" + probe}
		if named {
			args = append(args, "--plugin-env", "SECRET_TOKEN")
		}
		cmd := exec.Command(demohostBin, args...)
		cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "SECRET_TOKEN=hunter2", "DOCKER_HOST=unix:///run/demo.sock",
			"HTTPS_PROXY=http://proxy:3128", "LC_ALL=C.UTF-8", "XDG_RUNTIME_DIR=/run/user/0")
		got := probeLines(t, cmd, probe)
		for _, want := range []string{"env: PATH=", "env: DOCKER_HOST=unix:///run/demo.sock", "env: HTTPS_PROXY=http://proxy:3128",
			"env: LC_ALL=C.UTF-8", "env: XDG_RUNTIME_DIR=/run/user/0", "env: DEMOHOST_PLUGIN="} {
			if !strings.Contains(got, want) {
				t.Errorf("named=%v: the plugin's environment lacks %q", named, want)
			}
		}
		if strings.Contains(got, "SECRET_TOKEN=hunter2") != named {
			t.Errorf("named=%v: SECRET_TOKEN reached the plugin: %v", named, !named)
		}
	}
}

// --plugin-sha256 checks the file that runs: while the plugin's path is
// swapped back and forth between the pinned build and another program,
// every start runs the pinned build or nothing — never the other program
// (go-plugin hashed the path, then executed the path again).
func TestPinnedHashIsWhatRuns(t *testing.T) {
	dir := t.TempDir()
	good := copyFile(t, examplePlg, "good")
	marker := filepath.Join(dir, "swapped-in-ran")
	evil := filepath.Join(dir, "evil")
	if err := os.WriteFile(evil, []byte("#!/bin/sh\ntouch "+marker+"\nexec "+examplePlg+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plugin := filepath.Join(dir, "demohost-swapped")
	if err := os.Symlink(good, plugin); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	swapped := make(chan struct{})
	go func() {
		defer close(swapped)
		for i := 0; !stop.Load(); i++ {
			target := good
			if i%2 == 1 {
				target = evil
			}
			tmp := fmt.Sprintf("%s.%d", plugin, i)
			if os.Symlink(target, tmp) == nil {
				_ = os.Rename(tmp, plugin)
			}
			time.Sleep(time.Millisecond) // the swapper's pace, not a wait for anything
		}
	}()
	pin := sha256Of(t, good)
	started := 0
	for range 30 {
		res := demohost(t, nil, "describe", "--plugin", plugin, "--plugin-sha256", pin)
		if res.code == 0 {
			started++
		}
		if _, err := os.Stat(marker); err == nil {
			break
		}
	}
	stop.Store(true)
	<-swapped
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("a program other than the pinned build ran (%d of the starts ran)", started)
	}
	if started == 0 {
		t.Error("the pinned build never started")
	}
}

// copyFile copies the executable src to a new file in a directory of its
// own and returns its path.
func copyFile(t *testing.T, src, name string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func sha256Of(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

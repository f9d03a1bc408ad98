package leftovers_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/demohost/demohost/sdk/internal/testutil"
	"github.com/demohost/demohost/sdk/leftovers"
	"github.com/demohost/demohost/sdk/process"
)

// helperDir, set in the environment, makes the test binary a plugin
// process: it starts `sleep`, records it in its book in that directory,
// pauses it if asked, prints the sleeper's identity and waits to be killed.
const (
	helperDir   = "LEFTOVERS_TEST_PLUGIN_DIR"
	helperPause = "LEFTOVERS_TEST_PLUGIN_PAUSE"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperDir); dir != "" {
		os.Exit(plugin(dir))
	}
	os.Exit(m.Run())
}

func plugin(dir string) int {
	cmd := exec.Command("sleep", "3600") // no parent-death signal: it outlives us
	if err := cmd.Start(); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	id, err := process.IdentityOf(cmd.Process.Pid)
	if err == nil {
		err = leftovers.Open(dir).Add("sleeper", id)
	}
	if err == nil && os.Getenv(helperPause) != "" {
		err = id.Signal(syscall.SIGSTOP)
	}
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println(id)
	select {}
}

// startPlugin runs a plugin process that records one sleeper in dir, and
// returns it and the sleeper. Both are killed when the test ends.
func startPlugin(t *testing.T, dir string, pause bool) (*exec.Cmd, process.Identity) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperDir+"="+dir)
	if pause {
		cmd.Env = append(cmd.Env, helperPause+"=1")
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	sleeper, err := process.ParseIdentity(strings.TrimSpace(line))
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("plugin process said %q", line)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = sleeper.Signal(syscall.SIGCONT)
		_ = sleeper.Signal(syscall.SIGKILL)
	})
	return cmd, sleeper
}

func lines() (func(string), *[]string) {
	var got []string
	return func(msg string) { got = append(got, msg) }, &got
}

// What a SIGKILLed plugin process started is reaped by a fresh one, even a
// process it left paused; what a running plugin process started is not.
func TestReapStopsWhatGonePluginProcessesLeft(t *testing.T) {
	dir := t.TempDir()
	crashed, orphan := startPlugin(t, dir, true)
	_, alive := startPlugin(t, dir, false)
	if err := crashed.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = crashed.Wait()
	if !orphan.Alive() || !orphan.Stopped() {
		t.Fatalf("the crashed plugin's sleeper should still run, paused, before Reap")
	}

	progress, got := lines()
	if err := leftovers.Open(dir).Reap(progress); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("stopped leftover sleeper (pid %d) from an earlier run that did not finish; it was still paused", orphan.Pid)
	if strings.Join(*got, "\n") != want {
		t.Errorf("progress %q, want %q", *got, want)
	}
	testutil.WaitFor(t, 5*time.Second, "the orphan to die", func() bool { return !orphan.Alive() })
	if !alive.Alive() {
		t.Error("Reap stopped the sleeper of a plugin process that still runs")
	}
	books, _ := filepath.Glob(filepath.Join(dir, "*.state"))
	if len(books) != 1 {
		t.Errorf("books left: %v, want only the running plugin process's", books)
	}

	progress, got = lines()
	if err := leftovers.Open(dir).Reap(progress); err != nil || len(*got) != 0 {
		t.Errorf("a second Reap: %v, %q; want nothing to do", err, *got)
	}
}

// Clear throws this process's book away; names with spaces are refused
// (they would break the book's lines).
func TestClearAndNames(t *testing.T) {
	dir := t.TempDir()
	b := leftovers.Open(dir)
	if err := b.Add("two words", leftovers.Self()); err == nil {
		t.Error("a name with a space was accepted")
	}
	if err := b.Add("me", leftovers.Self()); err != nil {
		t.Fatal(err)
	}
	if books, _ := filepath.Glob(filepath.Join(dir, "plugin-"+leftovers.OwnerID(leftovers.Self())+".state")); len(books) != 1 {
		t.Fatalf("no book named after this process in %s", dir)
	}
	if err := b.Clear(); err != nil {
		t.Fatal(err)
	}
	if books, _ := filepath.Glob(filepath.Join(dir, "*")); len(books) != 0 {
		t.Errorf("Clear left %v", books)
	}
	if _, err := leftovers.ParseOwnerID("12-x"); err == nil {
		t.Error("a bad owner id was accepted")
	}
}

package process

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/demohost/demohost/sdk/internal/testutil"
)

// helperEnv turns the test binary into a parent that starts `sleep` through
// this package, prints the child's identity and waits to be killed.
const helperEnv = "PROCESS_TEST_PARENT"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		p := New(Spec{Name: "sleeper", Path: sleepPath(), Args: []string{"300"}})
		if err := p.Start(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(p.Identity())
		select {}
	}
	os.Exit(m.Run())
}

func sleepPath() string {
	p, err := exec.LookPath("sleep")
	if err != nil {
		panic("sleep not found: " + err.Error())
	}
	return p
}

func TestPauseResumeKillStartAgain(t *testing.T) {
	log := filepath.Join(t.TempDir(), "child.log")
	p := New(Spec{Name: "sleeper", Path: sleepPath(), Args: []string{"300"}, LogPath: log})
	t.Cleanup(func() { _ = p.Kill() })
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	id := p.Identity()
	if !id.Alive() || p.State() != Running {
		t.Fatalf("after Start: alive=%v state=%s", id.Alive(), p.State())
	}
	if err := p.Start(); err == nil {
		t.Fatal("a second Start of a running process must fail")
	}

	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "the kernel to report the child stopped", id.Stopped)
	if p.State() != Stopped {
		t.Fatalf("state after Pause = %s, want stopped", p.State())
	}

	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "the child to run again", func() bool { return !id.Stopped() && id.Alive() })

	if err := p.Pause(); err != nil { // kill must work on a stopped process too
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if id.Alive() || p.State() != Exited {
		t.Fatalf("after Kill: alive=%v state=%s", id.Alive(), p.State())
	}
	if err := p.Pause(); err == nil {
		t.Fatal("pausing an exited process must fail")
	}

	if err := p.Start(); err != nil {
		t.Fatalf("start again: %v", err)
	}
	if p.Identity() == id || !p.Identity().Alive() {
		t.Fatalf("start again gave identity %v (old %v)", p.Identity(), id)
	}
}

func TestChildHasOwnProcessGroup(t *testing.T) {
	p := New(Spec{Path: sleepPath(), Args: []string{"300"}})
	t.Cleanup(func() { _ = p.Kill() })
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	pgid, err := syscall.Getpgid(p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if pgid != p.Pid() || pgid == syscall.Getpgrp() {
		t.Fatalf("child pgid %d, want its own (pid %d), not ours (%d)", pgid, p.Pid(), syscall.Getpgrp())
	}
}

func TestChildDiesWithItsParent(t *testing.T) {
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), helperEnv+"=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = parent.Process.Kill(); _ = parent.Wait() })
	buf := make([]byte, 128)
	n, err := out.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	child, err := ParseIdentity(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		t.Fatal(err)
	}
	if !child.Alive() {
		t.Fatal("child not running before its parent is killed")
	}
	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "the child to die with its SIGKILLed parent", func() bool { return !child.Alive() })
}

func TestIdentityRefusesAReusedPid(t *testing.T) {
	p := New(Spec{Path: sleepPath(), Args: []string{"300"}})
	t.Cleanup(func() { _ = p.Kill() })
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	other := Identity{Pid: p.Pid(), Start: p.Identity().Start + 1} // same pid, another process
	if other.Alive() {
		t.Fatal("an identity with the wrong start time must not count as alive")
	}
	if err := other.Signal(syscall.SIGSTOP); err == nil {
		t.Fatal("signalling a process whose start time differs must be refused")
	}
	if p.Identity().Stopped() {
		t.Fatal("the refused signal reached the process")
	}
	parsed, err := ParseIdentity(p.Identity().String())
	if err != nil || parsed != p.Identity() {
		t.Fatalf("round trip %q -> %v, %v", p.Identity().String(), parsed, err)
	}
	if _, err := ParseIdentity("pid=x"); err == nil {
		t.Fatal("ParseIdentity accepted garbage")
	}
}

func TestWaitReady(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := WaitReady(context.Background(), nil, 100*time.Millisecond, DialProbe(addr)); err == nil {
		t.Fatal("nothing listens yet: WaitReady must time out")
	}
	go func() {
		time.Sleep(50 * time.Millisecond) // the listener appears later than the first probe
		l, err := net.Listen("tcp", addr)
		if err == nil {
			t.Cleanup(func() { l.Close() })
		}
	}()
	if err := WaitReady(context.Background(), nil, 5*time.Second, DialProbe(addr)); err != nil {
		t.Fatal(err)
	}

	// A process that exits before it is ready stops the wait at once.
	p := New(Spec{Name: "quitter", Path: sleepPath(), Args: []string{"0"}})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = WaitReady(context.Background(), p, 30*time.Second, func(context.Context) error { return fmt.Errorf("never ready") })
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("WaitReady did not notice the exit")
	}
}

package pluginhost

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/demohost/demohost/host/subject"
	"github.com/demohost/demohost/internal/testkit"
)

// alive reports whether pid runs (a zombie waiting to be reaped does not).
func alive(pid int) bool { return !testkit.ProcessEnded(pid) }

func TestLaunchServesTheSubjectAndCloseLeavesNoProcess(t *testing.T) {
	// A wrapper that leaves a child in the plugin's process group, then
	// becomes the plugin: Close must not let the child outlive it.
	dir := t.TempDir()
	childPid := filepath.Join(dir, "child.pid")
	wrapper := filepath.Join(dir, "demohost-wrapped")
	script := "#!/bin/sh\nsleep 300 &\necho $! > " + childPid + "\nexec " + examplePlugin + "\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	p, err := Launch(Config{Path: wrapper, Logger: hclog.New(&hclog.LoggerOptions{Output: &log, Level: hclog.Debug})})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	d, err := p.Subject.Describe(context.Background())
	if err != nil || d.Name != "example" {
		t.Fatalf("Describe = %v, %v; want the example subject", d, err)
	}
	if pgid, _ := syscall.Getpgid(p.PID()); pgid != p.PID() {
		t.Fatalf("plugin pgid = %d; want its own group %d (a terminal Ctrl-C must not reach it)", pgid, p.PID())
	}
	b, err := os.ReadFile(childPid)
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if !alive(child) {
		t.Fatalf("the wrapper's child %d is not running", child)
	}

	pid := p.PID()
	p.Close()
	testkit.WaitFor(t, 5*time.Second, "the plugin and its child to be gone", func() bool {
		return !alive(pid) && !alive(child)
	})
	if !strings.Contains(log.String(), "plugin started") {
		t.Errorf("go-plugin's messages did not reach the logger:\n%s", log.String())
	}
}

func TestLaunchPinnedHash(t *testing.T) {
	b, err := os.ReadFile(examplePlugin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	p, err := Launch(Config{Path: examplePlugin, SHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		t.Fatalf("launch with the right hash: %v", err)
	}
	p.Close()

	wrong := strings.Repeat("0", 64)
	_, err = Launch(Config{Path: examplePlugin, SHA256: wrong})
	if err == nil || !strings.Contains(err.Error(), "does not match --plugin-sha256: its SHA-256 is "+hex.EncodeToString(sum[:])) {
		t.Fatalf("launch with a wrong hash: %v; want a mismatch naming the real hash", err)
	}
}

func TestCallsWithoutDeadlineGetOne(t *testing.T) {
	// A plugin whose Health never answers: the deadline must end the call.
	p, err := Launch(Config{Path: examplePlugin, CallTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Subject.Configure(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Subject.Health(context.Background()); err != nil {
		t.Fatalf("a quick call failed: %v", err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGSTOP) // the plugin hangs
	defer func() { _ = p.cmd.Process.Signal(syscall.SIGCONT) }()
	testkit.WaitFor(t, 5*time.Second, "the plugin to stop", func() bool { return testkit.ProcState(p.PID()) == "T" })
	start := time.Now()
	_, err = p.Subject.Health(context.Background())
	if !errors.Is(err, subject.ErrTimedOut) {
		t.Fatalf("a call to a hung plugin returned %v; want it timed out", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a call to a hung plugin took %s; want about the 200ms deadline", took)
	}
}

// A plugin's error reaches the host as the plugin wrote it, without gRPC's
// framing, and with its kind: here the sdk refusing a call made out of
// order, and a fault kind the plugin never declared.
func TestCallErrorsAreThePluginsOwnWords(t *testing.T) {
	p, err := Launch(Config{Path: examplePlugin})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	_, err = p.Subject.Chapters(ctx)
	if !errors.Is(err, subject.ErrRefused) || !strings.HasPrefix(err.Error(), "Chapters before Configure") {
		t.Errorf("Chapters before Configure = %v; want the sdk's refusal, as it wrote it", err)
	}
	if err := p.Subject.Configure(ctx, nil); err != nil {
		t.Fatal(err)
	}
	_, err = p.Subject.InjectChaos(ctx, subject.Fault{Kind: "REDIS_PAUSE"})
	if !errors.Is(err, subject.ErrRefused) || strings.Contains(err.Error(), "rpc error") || !strings.Contains(err.Error(), "REDIS_PAUSE") {
		t.Errorf("InjectChaos of an undeclared kind = %v; want a refusal naming the kind, without gRPC framing", err)
	}
}

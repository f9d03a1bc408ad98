package chaoslog

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
)

func chaos(handle string) journal.Chaos {
	return journal.Chaos{Name: "pause", Type: "REDIS_PAUSE", Target: "redis", Handle: handle, InjectedAt: time.Now()}
}

func TestCleanRunLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, "/p/plugin", map[string]string{"nodes": "3"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Injected(chaos("h1")); err != nil {
		t.Fatal(err)
	}
	if err := l.Reverted(chaos("h1")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a run that reverted everything left %d files", len(entries))
	}
}

func TestRunningLogIsNotAbandoned(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, "/p/plugin", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Injected(chaos("h1")); err != nil {
		t.Fatal(err)
	}
	got, err := FindAbandoned(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("a live run's log was reported abandoned: %+v", got)
	}
}

// A host killed mid-chaos leaves its log; the next start finds exactly the
// faults it never reverted, and marking them reverted removes the log.
func TestKilledRunIsFoundAndRecovered(t *testing.T) {
	dir := t.TempDir()
	if os.Getenv("CHAOSLOG_CHILD") != "" {
		l, err := Open(os.Getenv("CHAOSLOG_CHILD"), "/p/plugin", map[string]string{"runtime": "local"})
		if err != nil {
			os.Exit(3)
		}
		l.Injected(chaos("h1"))
		l.Injected(chaos("h2"))
		l.Reverted(chaos("h1"))
		os.Stdout.WriteString("ready\n")
		select {}
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestKilledRunIsFoundAndRecovered$")
	cmd.Env = append(os.Environ(), "CHAOSLOG_CHILD="+dir)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("child not ready: %q %v", buf, err)
	}
	cmd.Process.Kill()
	cmd.Wait()

	got, err := FindAbandoned(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Active) != 1 || got[0].Active[0].Handle != "h2" {
		t.Fatalf("abandoned = %+v, want one log with h2 outstanding", got)
	}
	if got[0].Plugin != "/p/plugin" || got[0].Options["runtime"] != "local" {
		t.Fatalf("abandoned log lost its plugin and options: %+v", got[0])
	}
	if err := MarkReverted(got[0], got[0].Active[0]); err != nil {
		t.Fatal(err)
	}
	if again, _ := FindAbandoned(dir); len(again) != 0 {
		t.Fatalf("still abandoned after recovery: %+v", again)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("recovered log not removed: %d files", len(entries))
	}
}

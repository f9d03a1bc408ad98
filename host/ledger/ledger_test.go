package ledger

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/demohost/demohost/host/subject"
)

// plugin is a subject.Plugin that injects and reverts in memory and
// remembers every call. Only the fault calls matter to a ledger.
type plugin struct {
	subject.Plugin // nil: the other calls are not the ledger's

	mu        sync.Mutex
	n         int
	injected  []subject.Fault
	reverts   []subject.Revert
	revertErr error // RevertChaos fails with it
	onInject  func()
}

func (p *plugin) InjectChaos(_ context.Context, f subject.Fault) (subject.Injected, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	p.injected = append(p.injected, f)
	if p.onInject != nil {
		p.onInject()
	}
	return subject.Injected{Handle: fmt.Sprintf("h%d", p.n), Target: "node-" + fmt.Sprint(p.n), Detail: "killed node-" + fmt.Sprint(p.n)}, nil
}

func (p *plugin) RevertChaos(_ context.Context, r subject.Revert) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reverts = append(p.reverts, r)
	if p.revertErr != nil {
		return "", p.revertErr
	}
	return "started " + r.Target + " again", nil
}

func (p *plugin) revertCalls() []subject.Revert {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]subject.Revert(nil), p.reverts...)
}

// fault is a fault with every field a revert needs back.
func fault() subject.Fault {
	return subject.Fault{Kind: "NODE_KILL", Name: "kill one node", Target: "", Description: "mark one node dead",
		Duration: 30 * time.Second, Params: map[string]string{"count": "1"}}
}

var ctx = context.Background()

// logLines reads a log file as its entries.
func logLines(t *testing.T, path string) []entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// openLog opens a ledger with its log in dir.
func openLog(t *testing.T, dir string) *Ledger {
	t.Helper()
	l, err := Open(dir, Run{Plugin: "/p/plugin", PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestCleanRunLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Run{Plugin: "/p/plugin", Options: map[string]string{"nodes": "3"}, PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	p := &plugin{}
	id, _, err := l.Inject(ctx, p, 2, fault())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Revert(ctx, p, id, ByChapter); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if left := files(t, dir); len(left) != 0 {
		t.Fatalf("a run that reverted everything left %v", left)
	}
}

// The record is on disk, with everything a fresh process needs to revert
// it, before Inject returns (before the runner shows the fault as active).
func TestInjectWritesTheRecordBeforeItReturns(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir)
	defer l.Close()
	p := &plugin{}
	p.onInject = func() {
		// The plugin has not answered yet: nothing is acknowledged, nothing
		// recorded.
		if es := logLines(t, l.Path()); len(es) != 1 || es[0].Op != "run" {
			t.Errorf("log while the plugin injects = %+v; want only the run line", es)
		}
	}
	_, rec, err := l.Inject(ctx, p, 2, fault())
	if err != nil {
		t.Fatal(err)
	}
	es := logLines(t, l.Path())
	if len(es) != 2 || es[1].Op != "inject" || es[1].Handle != "h1" || es[1].Chaos == nil {
		t.Fatalf("log after Inject = %+v; want the run line and the injection with its handle", es)
	}
	c := *es[1].Chaos
	want := fault()
	if c.Type != want.Kind || c.Name != want.Name || c.Params["count"] != "1" || c.DurationMS != 30000 ||
		c.Target != "node-1" || c.Chapter != 2 || c.Detail != "killed node-1" || c.Description != want.Description {
		t.Errorf("record on disk = %+v; want the fault as injected, the target hit and the plugin's line", c)
	}
	if rec.Handle != "h1" || rec.InjectedAt.IsZero() || rec.RevertedAt != nil {
		t.Errorf("record returned = %+v", rec)
	}
}

// A fault the log cannot record is not left behind: Inject reverts it at
// once and fails, saying so.
func TestInjectThatCannotBeRecordedIsRevertedAtOnce(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir)
	defer l.Close()
	// The disk refuses every write from now on.
	ro, err := os.Open(l.f.Name())
	if err != nil {
		t.Fatal(err)
	}
	l.f.Close()
	l.f = ro
	p := &plugin{}
	_, _, err = l.Inject(ctx, p, 0, fault())
	if err == nil {
		t.Fatal("Inject succeeded although its record could not be written")
	}
	if calls := p.revertCalls(); len(calls) != 1 || calls[0].Handle != "h1" {
		t.Fatalf("reverts = %+v; want the unrecorded fault reverted at once", calls)
	}
	if !strings.Contains(err.Error(), "the fault was reverted at once (started node-1 again)") || strings.Contains(err.Error(), "recover") {
		t.Errorf("error = %q; want it to say the fault was reverted, with the plugin's line, and not send the user to recover", err)
	}
	if left := l.Unreverted(); len(left) != 0 {
		t.Errorf("unreverted = %v after the revert", left)
	}
}

// Every revert says why, in the record and on disk; reverting twice asks
// the plugin once; a failed revert stays outstanding and can be tried again
// (through a fresh plugin process after a crash).
func TestRevertReasons(t *testing.T) {
	for _, why := range []Reason{ByDuration, ByChapter, ByExit, ByCrash, ByRecover} {
		t.Run(string(why), func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir)
			defer l.Close()
			p := &plugin{}
			id, _, err := l.Inject(ctx, p, 0, fault())
			if err != nil {
				t.Fatal(err)
			}
			detail, err := l.Revert(ctx, p, id, why)
			if err != nil || detail != "started node-1 again" {
				t.Fatalf("Revert = %q, %v", detail, err)
			}
			rec := l.Record(id)
			if rec.RevertedBy != string(why) || rec.RevertedAt == nil || rec.RevertDetail != detail {
				t.Errorf("record = %+v; want reverted by %s with the plugin's line", rec, why)
			}
			es := logLines(t, l.Path())
			if last := es[len(es)-1]; last.Op != "revert" || last.Handle != "h1" || last.By != why || last.Detail != detail {
				t.Errorf("last log line = %+v; want the revert by %s", last, why)
			}
			if again, err := l.Revert(ctx, p, id, ByExit); again != "" || err != nil || len(p.revertCalls()) != 1 {
				t.Errorf("second revert = %q, %v, %d plugin calls; want nothing done", again, err, len(p.revertCalls()))
			}
			if rec := l.Record(id); rec.RevertedBy != string(why) {
				t.Errorf("a second revert changed the reason to %s", rec.RevertedBy)
			}
		})
	}
}

func TestFailedRevertStaysOutstanding(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir)
	dead := &plugin{revertErr: &subject.CallError{Message: "connection refused", Kind: subject.ErrUnreachable}}
	id, _, err := l.Inject(ctx, dead, 0, fault())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Revert(ctx, dead, id, ByExit); !errors.Is(err, subject.ErrUnreachable) {
		t.Fatalf("Revert through a dead plugin = %v", err)
	}
	if rec := l.Record(id); rec.RevertedAt != nil || rec.RevertError != "connection refused" {
		t.Errorf("record = %+v; want unreverted with the error", rec)
	}
	if left := l.Unreverted(); len(left) != 1 || left[0] != id {
		t.Fatalf("unreverted = %v; want the fault", left)
	}
	fresh := &plugin{}
	if _, err := l.Revert(ctx, fresh, id, ByCrash); err != nil {
		t.Fatal(err)
	}
	calls := fresh.revertCalls()
	if len(calls) != 1 || calls[0].Handle != "h1" || calls[0].Target != "node-1" {
		t.Fatalf("fresh plugin's reverts = %+v; want the fault's handle and target", calls)
	}
	if got, want := calls[0].Fault, fault(); got.Kind != want.Kind || got.Name != want.Name || got.Params["count"] != "1" || got.Duration != want.Duration {
		t.Errorf("fault passed to the revert = %+v; want it as injected", got)
	}
	if rec := l.Record(id); rec.RevertedBy != string(ByCrash) || rec.RevertError != "" || rec.RevertedAt == nil {
		t.Errorf("record = %+v; want reverted by crash, the earlier error cleared", rec)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if left := files(t, dir); len(left) != 0 {
		t.Errorf("log kept (%v) although the fault was reverted in the end", left)
	}
}

// A ledger in memory keeps the same records and writes nothing.
func TestInMemoryLedger(t *testing.T) {
	l := New()
	p := &plugin{}
	id, _, err := l.Inject(ctx, p, 1, fault())
	if err != nil {
		t.Fatal(err)
	}
	if l.Path() != "" {
		t.Errorf("in-memory ledger has a path %q", l.Path())
	}
	if _, err := l.Revert(ctx, p, id, ByDuration); err != nil {
		t.Fatal(err)
	}
	if rs := l.Records(); len(rs) != 1 || rs[0].RevertedBy != "duration" || rs[0].Chapter != 1 {
		t.Errorf("records = %+v", rs)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRunningLogIsNotAbandoned(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir)
	defer l.Close()
	if _, _, err := l.Inject(ctx, &plugin{}, 0, fault()); err != nil {
		t.Fatal(err)
	}
	got, err := FindAbandoned(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("a live run's log was reported abandoned: %+v", got)
	}
	if _, err := Resume(Abandoned{File: l.Path()}); err == nil {
		t.Error("a live run's log was resumed")
	}
}

// childEnv makes the test binary a host that injects two faults, reverts
// the first, says ready and waits to be killed.
const childEnv = "LEDGER_TEST_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		l, err := Open(dir, Run{Plugin: "/p/plugin", Options: map[string]string{"runtime": "local"}, PID: os.Getpid()})
		if err != nil {
			os.Exit(3)
		}
		p := &plugin{}
		id, _, _ := l.Inject(ctx, p, 2, fault())
		if _, _, err := l.Inject(ctx, p, 3, fault()); err != nil {
			os.Exit(3)
		}
		if _, err := l.Revert(ctx, p, id, ByDuration); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("ready\n")
		select {}
	}
	os.Exit(m.Run())
}

// killedHost runs a child host until it has injected two faults and
// reverted one, then SIGKILLs it; it returns the directory of its log.
func killedHost(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		_ = cmd.Process.Kill()
		t.Fatalf("child not ready: %q %v", line, err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return dir
}

// A host killed mid-chaos leaves its log; the next start finds exactly the
// fault it never reverted, with its run; recover resumes the log, reverts
// the fault through it (reason recover) and the log is gone.
func TestKilledRunIsFoundAndRecovered(t *testing.T) {
	dir := killedHost(t)
	got, err := FindAbandoned(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Active) != 1 || got[0].Active[0].Handle != "h2" || got[0].Active[0].Chapter != 3 {
		t.Fatalf("abandoned = %+v, want one log with h2 (chapter 4's) outstanding", got)
	}
	a := got[0]
	if a.Run.Plugin != "/p/plugin" || a.Run.Options["runtime"] != "local" || a.Started.IsZero() {
		t.Fatalf("abandoned log lost its run: %+v", a)
	}
	if d := a.Describe(); !strings.Contains(d, "NODE_KILL on node-2") || !strings.Contains(d, "plugin /p/plugin") {
		t.Errorf("Describe = %q", d)
	}

	l, err := Resume(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Resume(a); err == nil || !strings.Contains(err.Error(), "being recovered by another demohost") {
		t.Errorf("second Resume = %v; want it refused while the first holds the log", err)
	}
	ids := l.Unreverted()
	if len(ids) != 1 {
		t.Fatalf("resumed ledger has %v outstanding; want one", ids)
	}
	fresh := &plugin{}
	if _, err := l.Revert(ctx, fresh, ids[0], ByRecover); err != nil {
		t.Fatal(err)
	}
	calls := fresh.revertCalls()
	if len(calls) != 1 || calls[0].Handle != "h2" || calls[0].Target != "node-2" || calls[0].Fault.Params["count"] != "1" || calls[0].Fault.Kind != "NODE_KILL" {
		t.Fatalf("recover's revert = %+v; want h2 with the fault as injected", calls)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if again, _ := FindAbandoned(dir); len(again) != 0 {
		t.Fatalf("still abandoned after recovery: %+v", again)
	}
	if left := files(t, dir); len(left) != 0 {
		t.Fatalf("recovered log not removed: %v", left)
	}
}

// A host killed while writing leaves a torn last line: the faults before
// it are still found.
func TestTornLastLineIsSkipped(t *testing.T) {
	dir := killedHost(t)
	logs := files(t, dir)
	if len(logs) != 1 {
		t.Fatalf("logs = %v", logs)
	}
	f, err := os.OpenFile(logs[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"op":"inject","at":"2026-11-30T10:00:00Z","handle":"h3","chaos":{"name":"kill`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := FindAbandoned(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Active) != 1 || got[0].Active[0].Handle != "h2" {
		t.Fatalf("abandoned = %+v; want h2 outstanding, the torn line skipped", got)
	}
}

// A finished run's log with nothing outstanding (its host died after the
// last revert, before Close) is removed, not reported.
func TestLogWithNothingOutstandingIsRemoved(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir)
	p := &plugin{}
	id, _, err := l.Inject(ctx, p, 0, fault())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Revert(ctx, p, id, ByExit); err != nil {
		t.Fatal(err)
	}
	// As if the host died here: the file stays, unlocked.
	l.f.Close()
	got, err := FindAbandoned(dir)
	if err != nil || len(got) != 0 {
		t.Fatalf("FindAbandoned = %+v, %v; want nothing", got, err)
	}
	if left := files(t, dir); len(left) != 0 {
		t.Errorf("log with nothing outstanding kept: %v", left)
	}
}

// A log left by a demohost of protocol 1 (run fields at the top level,
// handles inside the records) is still found after an upgrade, not taken
// for a finished run and removed.
func TestProtocol1LogIsFound(t *testing.T) {
	dir := t.TempDir()
	v1 := `{"op":"run","at":"2026-11-27T10:00:00Z","plugin":"/p/plugin","options":{"runtime":"local"},"pid":4242}
{"op":"inject","at":"2026-11-27T10:00:01Z","chaos":{"name":"kill one node","type":"CONTAINER_KILL","target":"node-2","handle":"kill:node-2","chapter":2,"injected_at":"2026-11-27T10:00:01Z","reverted_at":null}}
{"op":"inject","at":"2026-11-27T10:00:02Z","chaos":{"name":"pause","type":"REDIS_PAUSE","target":"redis","handle":"pause:redis","chapter":3,"injected_at":"2026-11-27T10:00:02Z","reverted_at":null}}
{"op":"revert","at":"2026-11-27T10:00:03Z","chaos":{"name":"pause","type":"REDIS_PAUSE","target":"redis","handle":"pause:redis","chapter":3,"injected_at":"2026-11-27T10:00:02Z","reverted_at":"2026-11-27T10:00:03Z","reverted_by":"chapter"}}
`
	file := filepath.Join(dir, "20261127T100000.000000000-4242.jsonl")
	if err := os.WriteFile(file, []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := FindAbandoned(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Active) != 1 || got[0].Active[0].Handle != "kill:node-2" || got[0].Active[0].Type != "CONTAINER_KILL" {
		t.Fatalf("abandoned = %+v; want the protocol-1 log with kill:node-2 outstanding", got)
	}
	if r := got[0].Run; r.Plugin != "/p/plugin" || r.Options["runtime"] != "local" || r.PID != 4242 {
		t.Errorf("run = %+v; want the protocol-1 run line's plugin and options", r)
	}
	l, err := Resume(got[0])
	if err != nil {
		t.Fatal(err)
	}
	p := &plugin{}
	if _, err := l.Revert(ctx, p, l.Unreverted()[0], ByRecover); err != nil {
		t.Fatal(err)
	}
	if calls := p.revertCalls(); len(calls) != 1 || calls[0].Handle != "kill:node-2" {
		t.Errorf("reverts = %+v; want the protocol-1 handle", calls)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if left := files(t, dir); len(left) != 0 {
		t.Errorf("recovered protocol-1 log kept: %v", left)
	}
}

// Open creates its log before it can lock it: another demohost looking for
// abandoned logs in that instant must not take the empty file for a
// finished run and remove it (the new run would then record its faults
// in a file no recover can find).
func TestLogBeingCreatedIsLeftAlone(t *testing.T) {
	dir := t.TempDir()
	creating := filepath.Join(dir, "20261130T100000.000000000-4242.jsonl")
	if err := os.WriteFile(creating, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := FindAbandoned(dir)
	if err != nil || len(got) != 0 {
		t.Fatalf("FindAbandoned = %+v, %v; want nothing", got, err)
	}
	if _, err := os.Stat(creating); err != nil {
		t.Errorf("a log being created was removed: %v", err)
	}
}

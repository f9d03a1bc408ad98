package ledger

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// surveyWithin is SurveyDir, failing the test if it does not return
// within d (a FIFO named *.jsonl used to hang every start-up).
func surveyWithin(t *testing.T, d time.Duration, dir string) Survey {
	t.Helper()
	type result struct {
		s   Survey
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := SurveyDir(dir)
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("SurveyDir: %v", r.err)
		}
		return r.s
	case <-time.After(d):
		t.Fatalf("SurveyDir did not return within %s", d)
	}
	return Survey{}
}

// One bad file never keeps the others from being found: a directory and a
// FIFO named *.jsonl are skipped, a line over MaxLine is skipped, a file
// that is no chaos log is moved aside, each with a warning naming it; the
// faults of the good logs are all found.
func TestOneBadLogNeverBlocksTheOthers(t *testing.T) {
	dir := killedHost(t) // a good log: h2 outstanding
	if err := os.Mkdir(filepath.Join(dir, "a-dir.jsonl"), 0o700); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "b-fifo.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	long := filepath.Join(dir, "c-long.jsonl")
	if err := os.WriteFile(long, []byte(`{"op":"run","at":"2026-11-30T10:00:00Z","run":{"plugin":"/p/other","pid":4242}}`+"\n"+
		`{"op":"note","detail":"`+strings.Repeat("x", 2*MaxLine)+`"}`+"\n"+
		`{"op":"inject","at":"2026-11-30T10:00:01Z","handle":"h9","chaos":{"name":"pause","type":"REDIS_PAUSE","target":"redis","injected_at":"2026-11-30T10:00:01Z"}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "d-junk.jsonl")
	if err := os.WriteFile(junk, []byte("these are my notes\nnot a chaos log\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	s := surveyWithin(t, 10*time.Second, dir)
	handles := map[string]bool{}
	for _, a := range s.Abandoned {
		for _, c := range a.Active {
			handles[c.Handle] = true
		}
	}
	if len(s.Abandoned) != 2 || !handles["h2"] || !handles["h9"] {
		t.Errorf("abandoned = %+v; want the killed host's h2 and the long log's h9", s.Abandoned)
	}
	warnings := strings.Join(s.Warnings, "\n")
	for _, want := range []string{
		"chaos log " + filepath.Join(dir, "a-dir.jsonl") + " skipped: not a regular file",
		"chaos log " + fifo + " skipped: not a regular file",
		"chaos log " + long + ": line 2 is over 1 MiB",
		"chaos log " + junk + " is not a demohost chaos log: moved aside to " + junk + ".bad",
	} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings)
		}
	}
	if _, err := os.Stat(junk + ".bad"); err != nil {
		t.Errorf("the junk file was not moved aside: %v", err)
	}
	if info, err := os.Lstat(fifo); err != nil || info.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was touched: %v %v", info, err)
	}
}

// A log whose last line was cut short while an injection was written (the
// host died then) is kept for recover, not taken for a finished run and
// removed; once recover says the plugin tore down what the run left, the
// log goes.
func TestLogCutShortIsKeptUntilTornDown(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir)
	p := &plugin{}
	id, _, err := l.Inject(ctx, p, 0, fault())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Revert(ctx, p, id, ByDuration); err != nil {
		t.Fatal(err)
	}
	if _, err := l.f.WriteString(`{"op":"inject","at":"2026-11-30T10:00:00Z","handle":"h7","chaos":{"na`); err != nil {
		t.Fatal(err)
	}
	l.f.Close() // the host died here

	s := surveyWithin(t, 10*time.Second, dir)
	if len(s.Abandoned) != 1 || s.Abandoned[0].CutShort != 4 || !strings.Contains(s.Abandoned[0].Describe(), "an entry cut short") {
		t.Fatalf("abandoned = %+v; want the log, its line 4 cut short", s.Abandoned)
	}
	r, err := Resume(s.Abandoned[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if again := surveyWithin(t, 10*time.Second, dir); len(again.Abandoned) != 1 || again.Abandoned[0].CutShort != 4 {
		t.Fatalf("after a resume without teardown: %+v; want the log kept, still cut short", again.Abandoned)
	}
	r, err = Resume(surveyWithin(t, 10*time.Second, dir).Abandoned[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := r.TornDown(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if left := files(t, dir); len(left) != 0 {
		t.Errorf("log kept after the teardown answered for it: %v", left)
	}
}

// The state directory and the logs are private: they name what recover
// runs.
func TestLogsArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "chaos")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l := openLog(t, dir)
	defer l.Close()
	for path, want := range map[string]os.FileMode{dir: 0o700, l.Path(): 0o600} {
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v); want %v", path, info.Mode().Perm(), err, want)
		}
	}
}

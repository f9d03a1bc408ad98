package tui

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
)

// WriteCast writes asciicast v2: a header line (version 2, the size, the
// recording's start), then event lines [time, "o", data] whose times never
// go back and end at the run's length over the speed. Played in a real
// terminal (tmux) of that size, the last frame holds the summary chapter.
func TestCastIsAsciicastV2EndingOnTheSummary(t *testing.T) {
	rec := shipped(t)
	var cast bytes.Buffer
	if err := WriteCast(&cast, rec, CastOptions{Width: 100, Height: 30, Speed: 4}); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(&cast)
	lines.Buffer(nil, 1<<20)
	if !lines.Scan() {
		t.Fatal("empty cast")
	}
	var header struct {
		Version, Width, Height int
		Timestamp              int64
		Env                    map[string]string
	}
	if err := json.Unmarshal(lines.Bytes(), &header); err != nil || header.Version != 2 || header.Width != 100 || header.Height != 30 ||
		header.Timestamp != rec.Frames[0].At.Unix() || header.Env["TERM"] == "" {
		t.Fatalf("header %s (%v); want version 2, 100x30, the recording's start and TERM", lines.Text(), err)
	}
	var out strings.Builder
	last, n := -1.0, 0
	for lines.Scan() {
		var ev []any
		if err := json.Unmarshal(lines.Bytes(), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("event line %d %q: want [time, code, data] (%v)", n+1, lines.Text(), err)
		}
		at, okAt := ev[0].(float64)
		code, okCode := ev[1].(string)
		data, okData := ev[2].(string)
		if !okAt || !okCode || !okData || code != "o" {
			t.Fatalf("event line %d %q: want a number, \"o\" and a string", n+1, lines.Text())
		}
		if at < last {
			t.Fatalf("event %d at %gs comes before the one before it (%gs)", n+1, at, last)
		}
		last, n = at, n+1
		out.WriteString(data)
	}
	length := rec.Frames[len(rec.Frames)-1].At.Sub(rec.Frames[0].At).Seconds() / 4
	if n < 50 || last < length-0.001 || last > length+0.001 {
		t.Errorf("%d events, the last at %gs; want the whole run, %gs at 4×", n, last, length)
	}

	raw := filepath.Join(t.TempDir(), "cast.raw")
	if err := os.WriteFile(raw, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tm := newTmux(t, 100, 30)
	tm.keys("cat "+raw+"; read x", "Enter") // read: no prompt drawn over the last frame
	tm.waitScreen(10*time.Second, "■ REPLAY")
	tm.waitScreen(10*time.Second, "[12/12] Summary")
	tm.waitScreen(10*time.Second, "What the audit saw")
	if screen := tm.screen(); !strings.Contains(screen, "■ REPLAY "+rec.Frames[0].Snapshot.StartedAt.Format("2006-01-02")+" 4× │") {
		t.Errorf("the last frame does not say the replay ended, at 4×:\n%s", screen)
	}
}

// Done when: from the repository, `demohost replay` of the shipped journal
// runs the whole rate-limiter demo in a real terminal with no plugin and
// no Redis (demohost starts no process at all), and q exits 0 with the
// terminal restored.
func TestE2EReplayShippedJournalInTmux(t *testing.T) {
	tm := newTmux(t, 120, 40)
	host, _ := buildDemo(t)
	j, err := journal.Read(shippedJournal())
	if err != nil {
		t.Fatal(err)
	}
	tm.keys(fmt.Sprintf("cd %s && %s replay recordings/ratelimiter.json; echo EXIT=$?", shellQuote(filepathRoot()), host), "Enter")
	tm.waitScreen(30*time.Second, "▶ REPLAY "+j.StartedAt.Format("2006-01-02")+" 1× │ ratelimiter")
	pids := running(host)
	if len(pids) != 1 {
		t.Fatalf("want one demohost process, found %v", pids)
	}
	if kids := children(t, pids[0]); len(kids) > 0 {
		t.Errorf("demohost replay started processes %v; want none (no plugin, no Redis)", kids)
	}
	tm.keys("Space") // paused, the presenter moves on with →
	tm.waitScreen(10*time.Second, "‖ REPLAY")
	for i, c := range j.Chapters {
		tm.keys("Right")
		// The header's progress; the title (which a fault's badge may cut
		// there) heads the narration.
		tm.waitScreen(10*time.Second, fmt.Sprintf("│ [%d/%d]", i+1, len(j.Chapters)))
		tm.waitScreen(10*time.Second, "─ "+c.Title+" · ")
	}
	tm.waitScreen(10*time.Second, "What the audit saw")
	tm.keys("Right")
	tm.waitScreen(10*time.Second, "■ REPLAY")
	if kids := children(t, pids[0]); len(kids) > 0 {
		t.Errorf("demohost replay started processes %v; want none", kids)
	}
	tm.keys("q")
	tm.waitMatch(30*time.Second, regexp.MustCompile(`EXIT=\d`))
	if !strings.Contains(tm.screen(), "EXIT=0") {
		t.Fatalf("q did not exit 0:\n%s", tm.screen())
	}
	tm.keys("echo canonical-$(stty -a | tr ' ' '\\n' | grep -cx icanon)", "Enter")
	tm.waitScreen(10*time.Second, "canonical-1")
}

// children lists the processes whose parent is pid.
func children(t *testing.T, pid string) []string {
	t.Helper()
	var kids []string
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue // gone meanwhile
		}
		_, after, _ := strings.Cut(string(b), ") ")
		if f := strings.Fields(after); len(f) > 1 && f[1] == pid {
			kids = append(kids, filepath.Base(filepath.Dir(st)))
		}
	}
	return kids
}

func filepathRoot() string { return filepath.Dir(filepath.Dir(shippedJournal())) }

func shellQuote(s string) string { return strconv.Quote(s) }

// A signal ends a replay as q does, the terminal restored; the exit code
// says it was interrupted.
func TestE2EReplaySignalRestoresTheTerminal(t *testing.T) {
	tm := newTmux(t, 100, 30)
	host, _ := buildDemo(t)
	tm.keys(fmt.Sprintf("%s replay %s; echo EXIT=$?", host, shellQuote(shippedJournal())), "Enter")
	tm.waitScreen(30*time.Second, "REPLAY")
	pids := running(host)
	if len(pids) != 1 {
		t.Fatalf("want one demohost process, found %v", pids)
	}
	pid, _ := strconv.Atoi(pids[0])
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	tm.waitMatch(30*time.Second, regexp.MustCompile(`EXIT=\d`))
	if screen := tm.screen(); !strings.Contains(screen, "replay interrupted by a signal") || !strings.Contains(screen, "EXIT=1") {
		t.Fatalf("SIGTERM: want the interruption said and exit 1:\n%s", screen)
	}
	tm.keys("echo canonical-$(stty -a | tr ' ' '\\n' | grep -cx icanon)", "Enter")
	tm.waitScreen(10*time.Second, "canonical-1")
}

package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/runner"
)

// panicEnv makes the host panic once a fault is active. Tests use
// it to check that a host panic still reverts the chaos; it does nothing
// else.
const panicEnv = "DEMOHOST_TEST_PANIC_ON_CHAOS"

// progress prints a headless run's progress, one line each: faults injected
// and reverted, errors, and each chapter's result once it is known.
type progress struct {
	w        io.Writer
	total    int
	seen     map[string]bool // events already printed
	reported map[int]bool    // chapters whose result was printed
	panicky  bool
}

func newProgress(w io.Writer, chapters int) *progress {
	return &progress{
		w: w, total: chapters,
		seen: map[string]bool{}, reported: map[int]bool{},
		panicky: os.Getenv(panicEnv) != "",
	}
}

// snapshot prints what is new in s: results of chapters before the current
// one first (they ended before it began), then new events, then the
// current chapter's result.
func (p *progress) snapshot(s runner.Snapshot) {
	p.chapters(s, func(i int) bool { return i < s.Index })
	for _, e := range s.Events {
		key := fmt.Sprintf("%d|%s|%s", e.At.UnixNano(), e.Kind, e.Message)
		if p.seen[key] {
			continue
		}
		p.seen[key] = true
		if e.Kind == journal.KindError && s.Index < 0 {
			continue // a failed setup: demohost's closing line says it once
		}
		switch e.Kind {
		case journal.KindChaos, journal.KindRevert, journal.KindError:
			fmt.Fprintf(p.w, "%s %-6s %s\n", e.At.Format("15:04:05.000"), e.Kind, e.Message)
		}
	}
	p.chapters(s, func(i int) bool { return i >= s.Index })
	if p.panicky && len(s.Chaos) > 0 {
		panic("test panic requested by " + panicEnv)
	}
}

// chapters prints the results, not printed yet, of the chapters that pick
// selects.
func (p *progress) chapters(s runner.Snapshot, pick func(int) bool) {
	for i, c := range s.Chapters {
		switch c.Status {
		case journal.Passed, journal.Failed, journal.Skipped:
			if pick(i) {
				p.chapter(i, c.Title, c.Status)
			}
		}
	}
}

// finish prints the results not printed yet, the reasons chapters failed
// and a summary line.
func (p *progress) finish(j *journal.Journal) {
	if j.Result == "" || !anyStarted(j) {
		return // the run never reached a chapter (setup failed): nothing to list
	}
	passed := 0
	for _, c := range j.Chapters {
		if c.Status == journal.Passed {
			passed++
		}
		p.chapter(c.Index, c.Title, c.Status)
		if c.Status == journal.Failed {
			for _, e := range c.Expectations {
				if !e.Met {
					fmt.Fprintf(p.w, "    unmet: %s: %s\n", e.Description, e.Reason)
				}
			}
			if c.Error != "" {
				fmt.Fprintf(p.w, "    error: %s\n", c.Error)
			}
		}
	}
	reverted := 0
	for _, c := range j.Chaos {
		if c.RevertedAt != nil {
			reverted++
		}
	}
	fmt.Fprintf(p.w, "result: %s: %d/%d chapters passed; faults injected: %d, reverted: %d\n",
		strings.ToUpper(j.Result), passed, p.total, len(j.Chaos), reverted)
}

// anyStarted says whether the run entered at least one chapter.
func anyStarted(j *journal.Journal) bool {
	for _, c := range j.Chapters {
		if c.StartedAt != nil {
			return true
		}
	}
	return false
}

func (p *progress) chapter(i int, title, status string) {
	if p.reported[i] || status == "" {
		return
	}
	p.reported[i] = true
	fmt.Fprintf(p.w, "chapter %d/%d %-7s %s\n", i+1, p.total, status, title)
}

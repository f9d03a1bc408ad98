// Package headless is the view of a run without a terminal: one line per
// fault injected or reverted, per error and per chapter result, then a
// summary. It is what `demohost --headless` prints.
package headless

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/sanitize"
)

// View runs r and prints its progress to w until Run returns.
func View(w io.Writer) func(ctx context.Context, r *runner.Runner) (*journal.Journal, error) {
	return func(ctx context.Context, r *runner.Runner) (*journal.Journal, error) {
		snaps, unsubscribe := r.Subscribe()
		defer unsubscribe()
		go func() { _, _ = r.Run(ctx) }()
		p := newPrinter(w)
		for s := range snaps {
			p.snapshot(s)
		}
		return r.Result()
	}
}

// printer remembers what it printed.
type printer struct {
	w        io.Writer
	seen     map[string]bool // events already printed
	reported map[int]bool    // chapters whose result was printed
}

func newPrinter(w io.Writer) *printer {
	return &printer{w: w, seen: map[string]bool{}, reported: map[int]bool{}}
}

// snapshot prints what is new in s: results of chapters before the current
// one first (they ended before it began), then new events, then the
// current chapter's result.
func (p *printer) snapshot(s runner.Snapshot) {
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
			fmt.Fprintf(p.w, "%s %-6s %s\n", e.At.Format("15:04:05.000"), e.Kind, line(e.Message))
		}
	}
	p.chapters(s, func(i int) bool { return i >= s.Index })
}

// chapters prints the results, not printed yet, of the chapters that pick
// selects.
func (p *printer) chapters(s runner.Snapshot, pick func(int) bool) {
	for i, c := range s.Chapters {
		switch c.Status {
		case journal.Passed, journal.Failed, journal.Skipped:
			if pick(i) {
				p.chapter(i, len(s.Chapters), c.Title, c.Status)
			}
		}
	}
}

func (p *printer) chapter(i, total int, title, status string) {
	if p.reported[i] || status == "" {
		return
	}
	p.reported[i] = true
	fmt.Fprintf(p.w, "chapter %d/%d %-7s %s\n", i+1, total, status, line(title))
}

// line is plugin text as printed: sanitised, one line, cut when over-long.
func line(s string) string { return sanitize.Line(s, sanitize.MaxLine) }

// Summary prints why chapters failed and one line for the whole run, from
// the final journal (faults reverted after a plugin crash included).
func Summary(w io.Writer, j *journal.Journal) {
	if j == nil || j.Result == "" || !anyStarted(j) {
		return // the run never reached a chapter (setup failed): nothing to list
	}
	passed := 0
	for _, c := range j.Chapters {
		switch {
		case c.Status == journal.Passed:
			passed++
		case c.StartedAt == nil: // never reached: the stream never showed it
			fmt.Fprintf(w, "chapter %d/%d %-7s %s\n", c.Index+1, len(j.Chapters), c.Status, line(c.Title))
		case c.SkipReason != "":
			fmt.Fprintf(w, "    chapter %d skipped: %s\n", c.Index+1, line(c.SkipReason))
		case c.Status == journal.Failed:
			for _, e := range c.Expectations {
				if !e.Met && e.Reason != "" {
					fmt.Fprintf(w, "    chapter %d unmet: %s: %s\n", c.Index+1, line(e.Description), line(e.Reason))
				}
			}
			if c.Error != "" {
				fmt.Fprintf(w, "    chapter %d error: %s\n", c.Index+1, line(c.Error))
			}
		}
	}
	reverted := 0
	for _, c := range j.Chaos {
		if c.RevertedAt != nil {
			reverted++
		}
	}
	fmt.Fprintf(w, "result: %s: %d/%d chapters passed; faults injected: %d, reverted: %d\n",
		strings.ToUpper(j.Result), passed, len(j.Chapters), len(j.Chaos), reverted)
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

package report_test

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/journal/journaltest"
	"github.com/demohost/demohost/host/report"
)

var update = flag.Bool("update", false, "rewrite testdata/ratelimiter-2m.json from journaltest.Sample")

const sampleJournal = "testdata/ratelimiter-2m.json"

// TestSampleJournalIsCurrent keeps the committed sample journal (which
// `demohost report` can be tried on) in step with journaltest.Sample.
func TestSampleJournalIsCurrent(t *testing.T) {
	j := journaltest.Sample(2*time.Minute, 3)
	j.AddEvidence()
	if *update {
		if err := writeJournal(j, sampleJournal); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(sampleJournal)
	if err != nil {
		t.Fatalf("%v (run go test ./host/report -run SampleJournal -update)", err)
	}
	path := filepath.Join(t.TempDir(), "j.json")
	if err := writeJournal(j, path); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./host/report -run SampleJournal -update", sampleJournal)
	}
}

func journals(t *testing.T) map[string]*journal.Journal {
	t.Helper()
	short, err := journal.Read(sampleJournal)
	if err != nil {
		t.Fatal(err)
	}
	// Recorded from a real headless run of the ratelimiter plugin.
	recorded, err := journal.Read("testdata/ratelimiter-recorded.json")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*journal.Journal{
		"2 minutes":                short,
		"30 minutes":               journaltest.Sample(30*time.Minute, 5),
		"recorded ratelimiter run": recorded,
	}
}

func TestTimelineHasALanePerNodeAndASpanPerFault(t *testing.T) {
	for name, j := range journals(t) {
		t.Run(name, func(t *testing.T) {
			svg := render(t, report.WriteTimeline, j)
			root := parseXML(t, svg)
			if root.XMLName.Local != "svg" {
				t.Fatalf("root element %q, want svg", root.XMLName.Local)
			}
			cleared := 0
			for _, v := range j.Violations {
				if v.ClearedAt != nil {
					cleared++
				}
			}
			ran := 0
			for _, c := range j.Chapters {
				if c.StartedAt != nil {
					ran++
				}
			}
			for class, want := range map[string]int{
				"lane":              len(journal.NodeNames(j)),
				"chaos-span":        len(j.Chaos),
				"violation-raised":  len(j.Violations),
				"violation-cleared": cleared,
				"chapter":           ran,
				"metric":            min(len(j.Metrics), 6),
			} {
				if got := len(root.withClass(class)); got != want {
					t.Errorf("%d elements of class %q, want %d", got, class, want)
				}
			}
			for i, lane := range root.withClass("lane") {
				label := lane.withClass("lane-label")
				if len(label) != 1 || label[0].Text != journal.NodeNames(j)[i] {
					t.Errorf("lane %d is labelled %+v, want %q", i+1, label, journal.NodeNames(j)[i])
				}
			}
		})
	}
}

func TestTimelineIsSelfContained(t *testing.T) {
	svg := string(render(t, report.WriteTimeline, journaltest.Sample(2*time.Minute, 3)))
	for _, banned := range []string{"<script", "href=", "@import", "@font-face", "<foreignObject", "http://", "https://"} {
		text := strings.ReplaceAll(svg, `xmlns="http://www.w3.org/2000/svg"`, "")
		if strings.Contains(text, banned) {
			t.Errorf("timeline contains %q: it must open offline with no script", banned)
		}
	}
}

// A node's DOWN stretch sits where the journal says it went down, in red.
func TestTimelineShowsWhenANodeWentDown(t *testing.T) {
	j := journaltest.Sample(2*time.Minute, 3)
	var down journal.NodeTransition
	for _, tr := range j.Nodes {
		if tr.State == "DOWN" {
			down = tr
			break
		}
	}
	root := parseXML(t, render(t, report.WriteTimeline, j))
	var lane *element
	for _, l := range root.withClass("lane") {
		if l.withClass("lane-label")[0].Text == down.Node {
			lane = l
		}
	}
	if lane == nil {
		t.Fatalf("no lane for %s", down.Node)
	}
	rects := lane.withClass("state-DOWN")
	if len(rects) != 1 {
		t.Fatalf("%d DOWN stretches in %s's lane, want 1", len(rects), down.Node)
	}
	// The plot spans x 170..1250 over the run.
	_, end := j.Span()
	wantX := 170 + 1080*down.At.Sub(j.StartedAt).Seconds()/end.Sub(j.StartedAt).Seconds()
	if x := rects[0].num(t, "x"); math.Abs(x-wantX) > 1 {
		t.Errorf("DOWN stretch starts at x=%.1f, want %.1f", x, wantX)
	}
	if fill := rects[0].attr("fill"); fill != "#d62f2f" {
		t.Errorf("DOWN stretch is %s, want red", fill)
	}
}

func TestTimelineFlagsAFaultWithNoEffect(t *testing.T) {
	j := journaltest.Sample(2*time.Minute, 3)
	svg := string(render(t, report.WriteTimeline, j))
	if !strings.Contains(svg, "⚠ pause replica") || !strings.Contains(svg, "no observable effect") {
		t.Error("the fault that hit nothing is not flagged on the timeline")
	}
}

func TestReportsAreByteIdentical(t *testing.T) {
	// Times as a live run has them: local zone, monotonic readings.
	now := time.Now()
	j := journaltest.Sample(2*time.Minute, 3)
	shift(j, now.Sub(j.StartedAt))
	path := filepath.Join(t.TempDir(), "r.json")
	if err := writeJournal(j, path); err != nil {
		t.Fatal(err)
	}
	saved, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, write := range map[string]func(io.Writer, *journal.Journal) error{"timeline": report.WriteTimeline, "junit": report.WriteJUnit} {
		live, again, fromDisk := render(t, write, j), render(t, write, j), render(t, write, saved)
		if !bytes.Equal(live, again) {
			t.Errorf("%s: two renderings of one journal differ", name)
		}
		if !bytes.Equal(live, fromDisk) {
			t.Errorf("%s: the journal read back from disk renders differently from the live one", name)
		}
	}
	if j.Chaos[0].Evidence != nil {
		t.Error("rendering filled Evidence in the caller's journal; it must not modify it")
	}
}

func TestRenderersRefuseAnEmptyJournal(t *testing.T) {
	if err := report.WriteTimeline(io.Discard, &journal.Journal{}); err == nil || !strings.Contains(err.Error(), "no timestamps") {
		t.Errorf("WriteTimeline(empty) = %v, want an error saying the journal has no timestamps", err)
	}
	if err := report.WriteJUnit(io.Discard, nil); err == nil {
		t.Error("WriteJUnit(nil) succeeded")
	}
}

// junit mirrors the common JUnit schema's shape.
type junit struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name     string  `xml:"name,attr"`
		Tests    int     `xml:"tests,attr"`
		Failures int     `xml:"failures,attr"`
		Errors   int     `xml:"errors,attr"`
		Skipped  int     `xml:"skipped,attr"`
		Time     float64 `xml:"time,attr"`
		Cases    []struct {
			Name      string  `xml:"name,attr"`
			Classname string  `xml:"classname,attr"`
			Time      float64 `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped   *struct{} `xml:"skipped"`
			SystemOut string    `xml:"system-out"`
		} `xml:"testcase"`
		SystemOut string `xml:"system-out"`
	} `xml:"testsuite"`
}

func TestJUnitHasATestcasePerChapter(t *testing.T) {
	j := journaltest.Sample(30*time.Minute, 3)
	var got junit
	if err := xml.Unmarshal(render(t, report.WriteJUnit, j), &got); err != nil {
		t.Fatalf("JUnit does not parse: %v", err)
	}
	if len(got.Suites) != 1 {
		t.Fatalf("%d testsuites, want 1", len(got.Suites))
	}
	s := got.Suites[0]
	if len(s.Cases) != len(j.Chapters) {
		t.Fatalf("%d testcases for %d chapters", len(s.Cases), len(j.Chapters))
	}
	failures, skipped := 0, 0
	for i, c := range j.Chapters {
		tc := s.Cases[i]
		if tc.Name != c.Title || tc.Classname == "" {
			t.Errorf("testcase %d is %q/%q, want name %q and a classname", i, tc.Classname, tc.Name, c.Title)
		}
		if c.StartedAt != nil && math.Abs(tc.Time-c.FinishedAt.Sub(*c.StartedAt).Seconds()) > 0.001 {
			t.Errorf("%s: time %.3f, want %.3f", c.Title, tc.Time, c.FinishedAt.Sub(*c.StartedAt).Seconds())
		}
		switch c.Status {
		case journal.Failed:
			failures++
			if tc.Failure == nil {
				t.Errorf("%s failed but has no <failure>", c.Title)
				continue
			}
			for _, e := range c.Expectations {
				if !e.Met && (!strings.Contains(tc.Failure.Message, e.Description) || !strings.Contains(tc.Failure.Message, e.Reason)) {
					t.Errorf("%s: failure message %q lacks the unmet expectation %q and its reason", c.Title, tc.Failure.Message, e.Description)
				}
			}
		case journal.Skipped:
			skipped++
			if tc.Skipped == nil {
				t.Errorf("%s was skipped but has no <skipped/>", c.Title)
			}
		default:
			if tc.Failure != nil || tc.Skipped != nil {
				t.Errorf("%s passed but is marked failed or skipped", c.Title)
			}
		}
	}
	if failures == 0 || skipped == 0 {
		t.Fatal("the sample run should have failed and skipped chapters")
	}
	if s.Tests != len(s.Cases) || s.Failures != failures || s.Skipped != skipped || s.Errors != 0 {
		t.Errorf("testsuite counts tests=%d failures=%d skipped=%d errors=%d, want %d %d %d 0", s.Tests, s.Failures, s.Skipped, s.Errors, len(s.Cases), failures, skipped)
	}
	if got.Tests != s.Tests || got.Failures != s.Failures || got.Skipped != s.Skipped {
		t.Errorf("testsuites counts %d/%d/%d differ from the suite's", got.Tests, got.Failures, got.Skipped)
	}
	if !strings.Contains(s.SystemOut, "WARNING no observable effect") {
		t.Error("system-out does not carry the no-effect warning")
	}
	for _, c := range j.Chaos {
		if out := s.Cases[c.Chapter].SystemOut; !strings.Contains(out, c.Name+" ("+c.Type) {
			t.Errorf("testcase %q does not tell what its fault %q did: %q", s.Cases[c.Chapter].Name, c.Name, out)
		}
	}
}

func render(t *testing.T, write func(io.Writer, *journal.Journal) error, j *journal.Journal) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b, j); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// shift moves every time in j by d, keeping the monotonic reading that
// time.Now gave base.
func shift(j *journal.Journal, d time.Duration) {
	mv := func(t *time.Time) { *t = time.Now().Add(t.Add(d).Sub(time.Now())) }
	mvp := func(t *time.Time) {
		if t != nil {
			mv(t)
		}
	}
	mv(&j.StartedAt)
	mv(&j.FinishedAt)
	for i := range j.Chapters {
		mvp(j.Chapters[i].StartedAt)
		mvp(j.Chapters[i].FinishedAt)
		for k := range j.Chapters[i].Expectations {
			mv(&j.Chapters[i].Expectations[k].Deadline)
			mvp(j.Chapters[i].Expectations[k].MetAt)
		}
	}
	for i := range j.Chaos {
		mv(&j.Chaos[i].InjectedAt)
		mvp(j.Chaos[i].RevertedAt)
	}
	for i := range j.Violations {
		mv(&j.Violations[i].RaisedAt)
		mvp(j.Violations[i].ClearedAt)
	}
	for i := range j.ViolationsSeen {
		mv(&j.ViolationsSeen[i].FirstSeen)
	}
	for i := range j.Nodes {
		mv(&j.Nodes[i].At)
	}
	for i := range j.Metrics {
		for k := range j.Metrics[i].Points {
			mv(&j.Metrics[i].Points[k].At)
		}
	}
	for i := range j.Events {
		mv(&j.Events[i].At)
	}
}

// element is a parsed XML element.
type element struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []*element `xml:",any"`
	Text     string     `xml:",chardata"`
}

func parseXML(t *testing.T, b []byte) *element {
	t.Helper()
	var root element
	if err := xml.Unmarshal(b, &root); err != nil {
		t.Fatalf("not well-formed XML: %v", err)
	}
	return &root
}

func (e *element) attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (e *element) num(t *testing.T, name string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(e.attr(name), 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", e.XMLName.Local, name, e.attr(name), err)
	}
	return f
}

// withClass lists the descendants (and e itself) whose class list holds
// class, in document order.
func (e *element) withClass(class string) []*element {
	var out []*element
	for _, c := range strings.Fields(e.attr("class")) {
		if c == class {
			out = append(out, e)
			break
		}
	}
	for _, c := range e.Children {
		out = append(out, c.withClass(class)...)
	}
	return out
}

// BenchmarkWriteTimeline renders the SVG timeline of a 30-minute journal
// (6 nodes, about 100 chapters, 50 faults, 4 metrics sampled every second).
//
// The figure is for a warm render (one is done before timing), so that
// -benchtime 1x measures the same thing as longer runs.
//
// Target: under 100 ms per render, so --timeline adds nothing noticeable to a run's exit.
func BenchmarkWriteTimeline(b *testing.B) {
	j := journaltest.Sample(30*time.Minute, 5)
	if err := report.WriteTimeline(io.Discard, j); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := report.WriteTimeline(io.Discard, j); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteJUnit renders the JUnit XML of the same 30-minute journal
// (warm, like BenchmarkWriteTimeline; most of the time is computing each
// fault's evidence).
//
// Target: under 100 ms per render.
func BenchmarkWriteJUnit(b *testing.B) {
	j := journaltest.Sample(30*time.Minute, 5)
	if err := report.WriteJUnit(io.Discard, j); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := report.WriteJUnit(io.Discard, j); err != nil {
			b.Fatal(err)
		}
	}
}

// writeJournal saves j as --report does.
func writeJournal(j *journal.Journal, path string) error {
	return report.Outputs{Journal: path}.Write(j, io.Discard)
}

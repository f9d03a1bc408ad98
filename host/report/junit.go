package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/sanitize"
)

// JUnit XML in the common shape CI systems read (Jenkins, GitLab, GitHub
// test reporters): testsuites > testsuite > testcase, with failure and
// skipped children.
type junitSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	Name    string   `xml:"name,attr"`
	junitCounts
	Suites []junitSuite `xml:"testsuite"`
}

// junitCounts are the totals both levels carry.
type junitCounts struct {
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Errors   int    `xml:"errors,attr"`
	Skipped  int    `xml:"skipped,attr"`
	Time     string `xml:"time,attr"`
}

type junitSuite struct {
	Name string `xml:"name,attr"`
	junitCounts
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  *junitText      `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// junitText is multi-line text, kept readable as CDATA.
type junitText struct {
	Text string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr,omitempty"`
}

// WriteJUnit renders j as JUnit XML: one testsuite for the run, one
// testcase per chapter (named by its title, timed), a failure holding the
// unmet expectations and their reasons, skipped chapters as <skipped/>.
// What each fault did goes to the system-out of the chapter that injected
// it, and of the suite.
func WriteJUnit(w io.Writer, j *journal.Journal) error {
	j, err := canonical(j)
	if err != nil {
		return err
	}
	start, end := j.Span()
	if !j.StartedAt.IsZero() {
		start = j.StartedAt
	}
	suite := junitSuite{
		Name:        "demohost." + j.Subject,
		junitCounts: junitCounts{Time: seconds(end.Sub(start).Seconds())},
		Cases:       []junitCase{},
	}
	if !start.IsZero() {
		suite.Timestamp = start.UTC().Format("2006-01-02T15:04:05")
	}
	suite.Properties = append(suite.Properties,
		junitProperty{Name: "subject", Value: j.Subject},
		junitProperty{Name: "subject_version", Value: j.SubjectVersion},
		junitProperty{Name: "result", Value: j.Result},
	)
	for _, k := range sortedKeys(j.Options) {
		suite.Properties = append(suite.Properties, junitProperty{Name: "option." + k, Value: j.Options[k]})
	}
	byChapter := map[int][]journal.Chaos{}
	for _, c := range j.Chaos {
		byChapter[c.Chapter] = append(byChapter[c.Chapter], c)
	}
	for _, c := range j.Chapters {
		tc := junitCase{
			Name:      c.Title,
			Classname: "demohost." + j.Subject,
			Time:      seconds(elapsed(c).Seconds()),
		}
		switch c.Status {
		case journal.Passed:
		case journal.Failed:
			reasons := unmet(c)
			if len(reasons) == 0 {
				reasons = []string{"chapter failed"}
			}
			tc.Failure = &junitFailure{Message: strings.Join(reasons, "; "), Type: "expectation", Text: strings.Join(reasons, "\n")}
			suite.Failures++
		default:
			msg := "skipped"
			switch {
			case c.SkipReason != "":
				msg = "skipped here: " + c.SkipReason
			case c.Status != journal.Skipped:
				msg = "not run (the run ended first)"
			}
			tc.Skipped = &junitSkipped{Message: msg}
			suite.Skipped++
		}
		tc.SystemOut = faultsOf(byChapter[c.Index], start)
		suite.Cases = append(suite.Cases, tc)
	}
	suite.Tests = len(suite.Cases)
	suite.SystemOut = faultsOf(j.Chaos, start)
	return encodeJUnit(w, suite)
}

// Suite is one JUnit test suite of checks other than chapters (demohost
// conform's), written in the same shape as a run's.
type Suite struct {
	Name       string
	Timestamp  time.Time
	Time       time.Duration
	Properties [][2]string // name, value
	Cases      []Case
}

// Case is one testcase: passed, failed (Failure set), or skipped (Skipped
// set); SystemOut is shown with it.
type Case struct {
	Name, Classname string
	Time            time.Duration
	Failure         string
	FailureType     string
	Skipped         string
	SystemOut       string
}

// WriteJUnitSuite renders s as JUnit XML.
func WriteJUnitSuite(w io.Writer, s Suite) error {
	suite := junitSuite{Name: s.Name, junitCounts: junitCounts{Time: seconds(s.Time.Seconds())}, Cases: []junitCase{}}
	if !s.Timestamp.IsZero() {
		suite.Timestamp = s.Timestamp.UTC().Format("2006-01-02T15:04:05")
	}
	for _, p := range s.Properties {
		suite.Properties = append(suite.Properties, junitProperty{Name: p[0], Value: p[1]})
	}
	for _, c := range s.Cases {
		tc := junitCase{Name: c.Name, Classname: c.Classname, Time: seconds(c.Time.Seconds())}
		switch {
		case c.Failure != "":
			tc.Failure = &junitFailure{Message: c.Failure, Type: c.FailureType, Text: c.Failure}
			suite.Failures++
		case c.Skipped != "":
			tc.Skipped = &junitSkipped{Message: c.Skipped}
			suite.Skipped++
		}
		if c.SystemOut != "" {
			tc.SystemOut = &junitText{Text: c.SystemOut}
		}
		suite.Cases = append(suite.Cases, tc)
	}
	suite.Tests = len(suite.Cases)
	return encodeJUnit(w, suite)
}

// encodeJUnit writes one suite as a JUnit document, every string of it
// sanitised (see package sanitize): one line in attributes, lines kept in
// text, nothing XML refuses.
func encodeJUnit(w io.Writer, suite junitSuite) error {
	sanitizeSuite(&suite)
	doc := junitSuites{Name: "demohost", junitCounts: suite.junitCounts, Suites: []junitSuite{suite}}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode junit: %w", err)
	}
	if _, err := io.WriteString(w, xml.Header+string(b)+"\n"); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}

// faultsOf tells what each fault did, one line each; nil when there is
// none.
func faultsOf(chaos []journal.Chaos, start time.Time) *junitText {
	var out []string
	for _, c := range chaos {
		out = append(out, clock(c.InjectedAt.Sub(start))+"  "+faultLine(c))
	}
	if len(out) == 0 {
		return nil
	}
	return &junitText{Text: strings.Join(out, "\n")}
}

// seconds formats a JUnit time attribute: seconds with millisecond
// precision.
func seconds(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sanitizeSuite sanitises every string of s.
func sanitizeSuite(s *junitSuite) {
	line := func(p *string) { *p = sanitize.Line(*p, 4*maxText) }
	text := func(t *junitText) {
		if t != nil {
			t.Text = sanitize.Text(t.Text, 16*maxText)
		}
	}
	line(&s.Name)
	for i := range s.Properties {
		line(&s.Properties[i].Name)
		line(&s.Properties[i].Value)
	}
	for i := range s.Cases {
		c := &s.Cases[i]
		line(&c.Name)
		line(&c.Classname)
		if c.Failure != nil {
			line(&c.Failure.Message)
			line(&c.Failure.Type)
			c.Failure.Text = sanitize.Text(c.Failure.Text, 16*maxText)
		}
		if c.Skipped != nil {
			line(&c.Skipped.Message)
		}
		text(c.SystemOut)
	}
	text(s.SystemOut)
}

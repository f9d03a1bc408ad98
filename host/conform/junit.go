package conform

import (
	"io"

	"github.com/demohost/demohost/host/report"
)

// WriteJUnit writes the report as JUnit XML, in the shape of a run's
// (host/report): one testcase per check; a failed check is a failure, a
// skipped one is skipped, and a warning passes with "warning: …" in its
// system-out.
func (r Report) WriteJUnit(w io.Writer) error {
	name := r.Subject
	if name == "" {
		name = r.Plugin
	}
	class := "demohost.conform." + name
	suite := report.Suite{
		Name: class, Timestamp: r.Started, Time: r.Took,
		Properties: [][2]string{{"plugin", r.Plugin}, {"subject", r.Subject}, {"subject_version", r.Version}},
	}
	for _, res := range r.Results {
		c := report.Case{Name: res.Check, Classname: class, Time: res.Took}
		switch res.Status {
		case Fail:
			c.Failure, c.FailureType = res.Why, "conform"
		case Skip:
			c.Skipped = res.Why
		case Warn:
			c.SystemOut = "warning: " + res.Why
		default:
			c.SystemOut = res.Why
		}
		suite.Cases = append(suite.Cases, c)
	}
	return report.WriteJUnitSuite(w, suite)
}

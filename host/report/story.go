package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/sanitize"
	"github.com/demohost/demohost/host/subject"
)

// canonical returns a deep copy of j as it reads back from its JSON:
// times lose their monotonic reading and zone, so a journal rendered
// straight after a run and the same journal read from disk give
// byte-identical reports. Every string is sanitised (a journal holds what
// the plugin said, and anyone can edit the file). Evidence is computed
// again from the sanitised copy.
func canonical(j *journal.Journal) (*journal.Journal, error) {
	if j == nil {
		return nil, fmt.Errorf("no journal to report on")
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("copy journal: %w", err)
	}
	var c journal.Journal
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&c); err != nil {
		return nil, fmt.Errorf("copy journal: %w", err)
	}
	sanitizeJournal(&c)
	c.AddEvidence() // from the sanitised journal, every fault's at once
	return &c, nil
}

// maxText bounds one string of a journal as the reports print it.
const maxText = 2000

// sanitizeJournal makes every string of j safe to print (see package
// sanitize), each cut to maxText runes: the renderers then build their
// lines only from clean parts.
func sanitizeJournal(j *journal.Journal) {
	l := func(s *string) { *s = sanitize.Line(*s, maxText) }
	l(&j.Subject)
	l(&j.SubjectVersion)
	l(&j.Result)
	j.Options = sanitizeMap(j.Options)
	for i := range j.Chapters {
		c := &j.Chapters[i]
		l(&c.Title)
		l(&c.Status)
		l(&c.Error)
		l(&c.SkipReason)
		for k := range c.Expectations {
			e := &c.Expectations[k]
			l(&e.Description)
			l(&e.Mode)
			l(&e.Reason)
		}
	}
	for i := range j.Chaos {
		c := &j.Chaos[i]
		for _, s := range []*string{&c.Name, &c.Type, &c.Target, &c.RequestedTarget, &c.Description, &c.Detail, &c.RevertedBy, &c.RevertDetail, &c.RevertError} {
			l(s)
		}
		c.Params = sanitizeMap(c.Params)
	}
	for i := range j.ViolationsSeen {
		l(&j.ViolationsSeen[i].Invariant)
	}
	for i := range j.Violations {
		v := &j.Violations[i]
		l(&v.Invariant)
		l(&v.Target)
		l(&v.Severity)
		l(&v.Message)
	}
	for i := range j.Nodes {
		l(&j.Nodes[i].Node)
		l(&j.Nodes[i].State)
	}
	for i := range j.Metrics {
		l(&j.Metrics[i].Name)
		l(&j.Metrics[i].Unit)
		l(&j.Metrics[i].Kind)
	}
	for i := range j.Events {
		l(&j.Events[i].Kind)
		l(&j.Events[i].Severity)
		l(&j.Events[i].Message)
	}
}

func sanitizeMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[sanitize.Line(k, maxText)] = sanitize.Line(v, maxText)
	}
	return out
}

// faultLine tells in one line what a fault did: its effect, its recovery
// and any warning.
func faultLine(c journal.Chaos) string {
	ev := c.Evidence
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s", c.Name, c.Type)
	if c.Target != "" {
		fmt.Fprintf(&b, " on %s", c.Target)
	}
	for _, p := range subject.ParamList(c.Params) {
		b.WriteString(", " + p)
	}
	if c.RevertedAt != nil {
		fmt.Fprintf(&b, ", %s", duration(c.RevertedAt.Sub(c.InjectedAt)))
	}
	b.WriteString(")")
	if c.RevertDetail != "" {
		fmt.Fprintf(&b, "; reverted by %s: %s", c.RevertedBy, c.RevertDetail)
	}
	if ev == nil {
		return b.String()
	}
	if ev.EffectAt != nil {
		fmt.Fprintf(&b, ": effect after %s: %s", duration(ev.EffectAt.Sub(c.InjectedAt)), strings.Join(effects(ev.During), ", "))
	}
	if ev.RecoveredAt != nil {
		if c.RevertedAt != nil && !ev.RecoveredAt.Before(*c.RevertedAt) {
			fmt.Fprintf(&b, "; recovered %s after the revert", duration(ev.RecoveredAt.Sub(*c.RevertedAt)))
		} else {
			fmt.Fprintf(&b, "; recovered %s after the effect", duration(ev.RecoveredAt.Sub(*ev.EffectAt)))
		}
	}
	if ev.Warning != "" {
		fmt.Fprintf(&b, " — WARNING %s", ev.Warning)
	}
	return b.String()
}

// effects names what changed, grouping nodes that entered the same state.
func effects(hc journal.HealthChange) []string {
	var out []string
	var order []string
	byState := map[string][]string{}
	for _, n := range hc.Nodes {
		st := n.States[0]
		if _, ok := byState[st]; !ok {
			order = append(order, st)
		}
		byState[st] = append(byState[st], n.Node)
	}
	for _, st := range order {
		names := byState[st]
		if len(names) > 3 {
			out = append(out, fmt.Sprintf("%d nodes %s", len(names), st))
		} else {
			out = append(out, strings.Join(names, ", ")+" "+st)
		}
	}
	for _, v := range hc.Violations {
		out = append(out, v.Invariant+" raised")
	}
	for _, m := range hc.Metrics {
		name, per := m.Name, ""
		if m.Rate {
			name, per = m.Name+" rate", "/s"
		}
		switch {
		case m.Max > m.High:
			out = append(out, fmt.Sprintf("%s up to %s%s (normal ≤ %s)", name, value(m.Max), per, value(m.High)))
		default:
			out = append(out, fmt.Sprintf("%s down to %s%s (normal ≥ %s)", name, value(m.Min), per, value(m.Low)))
		}
	}
	return out
}

// value formats a metric value compactly: 3 significant digits, k and M
// for large magnitudes.
func value(v float64) string {
	a := math.Abs(v)
	switch {
	case a < 1e-6:
		return "0"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	case a >= 1000:
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// unmet lists a chapter's unmet expectations with their reasons, and its
// error, as one line each.
func unmet(c journal.Chapter) []string {
	var out []string
	for _, e := range c.Expectations {
		if e.Met {
			continue
		}
		line := e.Description
		if e.Reason != "" {
			line += ": " + e.Reason
		}
		out = append(out, line)
	}
	if c.Error != "" {
		out = append(out, c.Error)
	}
	return out
}

// elapsed is a chapter's run time (zero when it did not run).
func elapsed(c journal.Chapter) time.Duration {
	if c.StartedAt == nil || c.FinishedAt == nil {
		return 0
	}
	return c.FinishedAt.Sub(*c.StartedAt)
}

// Package describe writes what a subject is, as `demohost describe` shows
// it: name and version, fault kinds with their parameters, options, and
// every chapter with its fault and expectations. It needs no cluster.
package describe

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/demohost/demohost/host/expect"
	"github.com/demohost/demohost/host/sanitize"
	"github.com/demohost/demohost/host/subject"
	"github.com/demohost/demohost/sdk/option"
)

// Write renders d and its chapters (path is the plugin executable). Every
// string the plugin gave is printed through sanitize, one line each.
func Write(w io.Writer, path string, d subject.Description, chapters []subject.Chapter) {
	fmt.Fprintf(w, "%s %s\n", line(d.Name), line(d.Version))
	if d.Description != "" {
		fmt.Fprintf(w, "  %s\n", line(d.Description))
	}
	fmt.Fprintf(w, "  plugin: %s\n\n", line(path))

	fmt.Fprintln(w, "Faults:")
	if len(d.Faults) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, k := range d.Faults {
		fmt.Fprintf(w, "  %s  %s\n", line(k.Kind), line(k.Description))
		if k.Target != "" {
			fmt.Fprintf(w, "      target: %s\n", line(k.Target))
		}
		if len(k.Params) > 0 {
			fmt.Fprintln(w, "      parameters:")
			writeSpecs(w, "        ", k.Params)
		}
	}

	fmt.Fprintln(w, "\nOptions (--set key=value):")
	if len(d.Options) == 0 {
		fmt.Fprintln(w, "  none")
	}
	writeSpecs(w, "  ", d.Options)

	fmt.Fprintf(w, "\nChapters:\n")
	for i, c := range chapters {
		fmt.Fprintf(w, "  %d. %s%s\n", i+1, line(c.Title), chapterFlags(c))
		if c.Skip != "" {
			fmt.Fprintf(w, "       skipped here: %s\n", line(c.Skip))
		}
		if c.RevertChaos {
			fmt.Fprintln(w, "       revert: every fault still active")
		}
		if c.Fault != nil {
			fmt.Fprintf(w, "       fault:  %s\n", FaultLine(c))
		}
		for _, e := range c.Expectations {
			fmt.Fprintf(w, "       expect: %s\n", line(expect.Describe(e)))
		}
	}
}

// writeSpecs lists options or parameters: name, type, default, help.
func writeSpecs(w io.Writer, indent string, specs []option.Spec) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, o := range specs {
		typ := o.Type.String()
		if o.Type == option.Enum {
			typ = strings.Join(o.Choices, "|")
		}
		fmt.Fprintf(tw, "%s%s\t%s\tdefault %s\t%s\n", indent, line(o.Name), line(typ), quoteEmpty(line(o.Default)), line(o.Help))
	}
	_ = tw.Flush()
}

func chapterFlags(c subject.Chapter) string {
	var f []string
	if c.HasAction {
		f = append(f, "on-enter action")
	}
	if c.AutoAdvance {
		f = append(f, "auto-advance")
	}
	if c.BlocksAdvance {
		f = append(f, "blocks advance")
	}
	if len(f) == 0 {
		return ""
	}
	return "  [" + strings.Join(f, ", ") + "]"
}

// line is one field as printed: sanitised, one line, cut when over-long.
func line(s string) string { return sanitize.Line(s, sanitize.MaxLine) }

// FaultLine is e.g. `BURST_TRAFFIC "burst" on tenant:x (multiplier=3) after
// a 2s countdown, until reverted`, sanitised.
func FaultLine(c subject.Chapter) string {
	f := c.Fault
	var b strings.Builder
	b.WriteString(line(f.Kind))
	if f.Name != "" {
		fmt.Fprintf(&b, " \"%s\"", line(f.Name))
	}
	if f.Target != "" {
		b.WriteString(" on " + line(f.Target))
	} else {
		b.WriteString(" on a target the plugin picks")
	}
	if len(f.Params) > 0 {
		params := subject.ParamList(f.Params)
		for i, p := range params {
			params[i] = sanitize.Line(p, sanitize.MaxValue)
		}
		b.WriteString(" (" + strings.Join(params, ", ") + ")")
	}
	if c.Countdown > 0 {
		b.WriteString(" after a " + expect.FormatDuration(c.Countdown) + " countdown")
	}
	if f.Duration > 0 {
		b.WriteString(", for " + expect.FormatDuration(f.Duration))
	} else {
		b.WriteString(", until reverted")
	}
	return b.String()
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

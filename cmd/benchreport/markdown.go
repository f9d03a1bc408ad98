package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// report is everything BENCHMARKS.md shows.
type report struct {
	run     run
	docs    map[string]map[string]doc // package -> benchmark -> doc
	module  string
	command string
	started time.Time
	took    time.Duration
	machine []string
}

func writeMarkdown(w io.Writer, r report) {
	fmt.Fprintf(w, "# Benchmarks\n\n")
	fmt.Fprintf(w, "Written by `go run ./cmd/benchreport` on %s; the whole run took %s.\n",
		r.started.UTC().Format("2006-01-02 15:04 UTC"), r.took.Round(time.Second))
	fmt.Fprintf(w, "Do not edit by hand: run it again (`make bench`).\n\n")

	fmt.Fprintf(w, "## Machine\n\n")
	for _, m := range r.machine {
		fmt.Fprintf(w, "- %s\n", m)
	}

	fmt.Fprintf(w, "\n## Method\n\n")
	fmt.Fprintf(w, "Every benchmark of the packages named, in one run of\n\n    %s\n\n", r.command)
	fmt.Fprintf(w, "one package at a time (`-p 1`) so that no two compete for the CPU. Each figure is the mean\n")
	fmt.Fprintf(w, "over the iterations shown; a benchmark's own figures (latencies, throughputs, ratios) are\n")
	fmt.Fprintf(w, "reported by it with `b.ReportMetric`, and a ratio compares two things measured in this same run.\n")
	fmt.Fprintf(w, "How each benchmark measures, and its target, come from its doc comment.\n")

	fmt.Fprintf(w, "\n## Results\n\n")
	if len(r.run.Results) == 0 {
		fmt.Fprintf(w, "No benchmark ran.\n")
	} else {
		fmt.Fprintf(w, "| Benchmark | Figure | Target | Method |\n|---|---|---|---|\n")
		for _, res := range r.run.Results {
			top, _, _ := strings.Cut(res.Name, "/")
			d := r.docs[res.Package][top]
			target := d.Target
			if target == "" {
				target = "—"
			}
			fmt.Fprintf(w, "| `%s` %s | %s | %s | %s |\n", cell(strings.TrimPrefix(res.Name, "Benchmark")),
				cell(packageDir(r.module, res.Package)), cell(figures(res)), cell(target), cell(d.Method))
		}
	}
	if len(r.run.Failures) > 0 {
		fmt.Fprintf(w, "\n## Failures\n\n")
		for _, f := range r.run.Failures {
			fmt.Fprintf(w, "- %s\n", f)
		}
	}
}

// figures formats a result's metrics: time per op in a readable unit,
// then the benchmark's own, then the iteration count.
func figures(res result) string {
	var parts []string
	for _, m := range res.Metrics {
		if m.Unit == "ns/op" {
			parts = append(parts, perOp(m.Value))
			continue
		}
		parts = append(parts, strconv.FormatFloat(m.Value, 'g', 4, 64)+" "+m.Unit)
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" (%d×)", res.N)
}

func perOp(ns float64) string {
	d := time.Duration(ns)
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%.0f ns/op", ns)
	case d < time.Millisecond:
		return fmt.Sprintf("%.1f µs/op", ns/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.1f ms/op", ns/1e6)
	}
	return fmt.Sprintf("%.2f s/op", ns/1e9)
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

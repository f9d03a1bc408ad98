package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseOutputReadsFiguresAndFailures(t *testing.T) {
	f, err := os.Open("testdata/gotest-bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := parseOutput(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.CPU != "Oxide Virtual Turin-like Processor" || r.GOOS != "linux" {
		t.Errorf("machine = %q %q", r.CPU, r.GOOS)
	}
	if len(r.Results) != 4 {
		t.Fatalf("%d results, want 4: %+v", len(r.Results), r.Results)
	}
	det := r.Results[2]
	if det.Name != "BenchmarkDetectionLatency" || det.Package != "github.com/demohost/demohost/plugins/tikv" || det.N != 5 {
		t.Errorf("result = %+v", det)
	}
	if got := figures(det); got != "812.3 ms/op, 412 ms-to-store_down, 530 ms-worst, 2100 ms-to-PD-mark (5×)" {
		t.Errorf("figures = %q", got)
	}
	if r.Results[3].Name != "BenchmarkThroughput/limiter" {
		t.Errorf("sub-benchmark named %q", r.Results[3].Name)
	}
	want := []string{"BenchmarkLaunch (github.com/demohost/demohost/plugins/tikv)", "github.com/demohost/demohost/plugins/tikv\t12.100s", "github.com/demohost/demohost/plugins/ratelimiter [build failed]"}
	if strings.Join(r.Failures, "|") != strings.Join(want, "|") {
		t.Errorf("failures = %q, want %q", r.Failures, want)
	}
}

func TestDocCommentsGiveMethodAndTarget(t *testing.T) {
	docs, err := readDocs("testdata/docs")
	if err != nil {
		t.Fatal(err)
	}
	d := docs["BenchmarkDetectionLatency"]
	if d.Target != "under 1 s to store_down." {
		t.Errorf("target = %q", d.Target)
	}
	if d.Method != "BenchmarkDetectionLatency measures the time from SIGKILLing a store container to store_down in the subject's health." {
		t.Errorf("method = %q (the code line and the target must not be in it)", d.Method)
	}
	if d := docs["BenchmarkInline"]; d.Method != "BenchmarkInline measures a thing." || d.Target != "≤ 1s." {
		t.Errorf("inline target: %+v", d)
	}
	if _, ok := docs["BenchmarkUndocumented"]; ok {
		t.Error("an undocumented benchmark got a doc")
	}
}

func TestMarkdownPutsEachFigureBesideItsTarget(t *testing.T) {
	f, _ := os.Open("testdata/gotest-bench.txt")
	defer f.Close()
	r, _ := parseOutput(f)
	docs, _ := readDocs("testdata/docs")
	var b bytes.Buffer
	writeMarkdown(&b, report{
		run: r, module: "github.com/demohost/demohost", command: "go test -bench .",
		docs:    map[string]map[string]doc{"github.com/demohost/demohost/plugins/tikv": docs},
		started: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), took: time.Minute, machine: []string{"CPU: test"},
	})
	md := b.String()
	for _, want := range []string{
		"- CPU: test",
		"| `DetectionLatency` plugins/tikv | 812.3 ms/op, 412 ms-to-store_down, 530 ms-worst, 2100 ms-to-PD-mark (5×) | under 1 s to store_down. | BenchmarkDetectionLatency measures",
		"| `WriteTimeline` host/report | 43.8 ms/op (20×) | — |",
		"## Failures\n\n- BenchmarkLaunch",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("BENCHMARKS.md lacks %q:\n%s", want, md)
		}
	}
}

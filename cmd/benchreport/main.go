// Command benchreport runs every benchmark of the module in one go test
// run and writes BENCHMARKS.md: the machine, the method, and each figure
// beside its target. A benchmark documents itself: its doc comment is the
// method, and a paragraph starting "Target:" is its target.
//
//	go run ./cmd/benchreport [-o BENCHMARKS.md] [-benchtime 1x] [packages]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

func main() {
	out := flag.String("o", "BENCHMARKS.md", "where to write the report")
	benchtime := flag.String("benchtime", "1x", "go test -benchtime: iterations (Nx) or a duration per benchmark")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: benchreport [-o BENCHMARKS.md] [-benchtime 1x] [packages (default ./...)]")
	}
	flag.Parse()
	pkgs := flag.Args()
	if len(pkgs) == 0 {
		pkgs = []string{"./..."}
	}
	if err := benchReport(*out, *benchtime, pkgs); err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		os.Exit(1)
	}
}

func benchReport(out, benchtime string, pkgs []string) error {
	// -p 1: one package at a time, so benchmarks do not compete for the CPU.
	args := append([]string{"test", "-p", "1", "-count", "1", "-run", "^$", "-bench", ".", "-benchtime", benchtime}, pkgs...)
	cmdline := "go " + strings.Join(quoteArgs(args), " ")
	fmt.Fprintln(os.Stderr, "benchreport: "+cmdline)
	var captured bytes.Buffer
	cmd := exec.Command("go", args...)
	cmd.Stdout = io.MultiWriter(&captured, os.Stderr)
	cmd.Stderr = io.MultiWriter(&captured, os.Stderr)
	started, load := time.Now(), firstLine("/proc/loadavg")
	testErr := cmd.Run()
	r, err := parseOutput(&captured)
	if err != nil {
		return fmt.Errorf("read go test output: %w", err)
	}
	if testErr != nil && len(r.Failures) == 0 {
		r.Failures = append(r.Failures, "go test: "+testErr.Error())
	}
	module, err := modulePath("go.mod")
	if err != nil {
		return err
	}
	docs := map[string]map[string]doc{}
	for _, res := range r.Results {
		if _, ok := docs[res.Package]; !ok {
			docs[res.Package], _ = readDocs(packageDir(module, res.Package))
		}
	}
	var md bytes.Buffer
	writeMarkdown(&md, report{run: r, docs: docs, module: module, command: cmdline, started: started, took: time.Since(started), machine: machine(r, load)})
	if err := os.WriteFile(out, md.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Fprintf(os.Stderr, "benchreport: %d benchmarks, %d failures -> %s\n", len(r.Results), len(r.Failures), out)
	if len(r.Failures) > 0 {
		return fmt.Errorf("%d benchmark failures (listed in %s)", len(r.Failures), out)
	}
	return nil
}

func quoteArgs(args []string) []string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if strings.ContainsAny(a, "^$* ") {
			q[i] = "'" + a + "'"
		}
	}
	return q
}

// modulePath reads the module line of go.mod (run from the module root).
func modulePath(gomod string) (string, error) {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", fmt.Errorf("run benchreport from the module root: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.TrimSpace(m), nil
		}
	}
	return "", fmt.Errorf("%s has no module line", gomod)
}

func packageDir(module, pkg string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	if rel == "" {
		return "."
	}
	return rel
}

// machine describes where the figures were taken.
func machine(r run, loadavg string) []string {
	cpu := r.CPU
	if cpu == "" {
		cpu = "unknown"
	}
	lines := []string{
		fmt.Sprintf("CPU: %s, %d logical CPUs", cpu, runtime.NumCPU()),
		fmt.Sprintf("OS: %s/%s, kernel %s", runtime.GOOS, runtime.GOARCH, firstLine("/proc/sys/kernel/osrelease")),
		"Go: " + runtime.Version(),
	}
	if mem := memTotal(); mem != "" {
		lines = append(lines, "Memory: "+mem)
	}
	if f := strings.Fields(loadavg); len(f) >= 3 {
		lines = append(lines, "Load average before the run: "+strings.Join(f[:3], " "))
	}
	return lines
}

func firstLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			var kb float64
			fmt.Sscan(f[1], &kb)
			return fmt.Sprintf("%.1f GiB", kb/1024/1024)
		}
	}
	return ""
}

// Command benchreport runs every benchmark of every module of the
// repository (the host, the sdk, each plugin), one go test run per module,
// one package at a time, and writes BENCHMARKS.md: the machine, the method,
// and each figure beside its target. A benchmark documents itself: its doc
// comment is the method, and a paragraph starting "Target:" is its target.
// Run it from the repository's root.
//
//	go run ./cmd/benchreport [-o BENCHMARKS.md] [-benchtime 1x] [packages]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

func main() {
	out := flag.String("o", "BENCHMARKS.md", "where to write the report")
	benchtime := flag.String("benchtime", "1x", "go test -benchtime: iterations (Nx) or a duration per benchmark")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: benchreport [-o BENCHMARKS.md] [-benchtime 1x] [packages of the root module (default: every module's ./...)]")
	}
	flag.Parse()
	runs := []moduleRun{{dir: ".", pkgs: flag.Args()}}
	if len(flag.Args()) == 0 {
		dirs, err := moduleDirs()
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
			os.Exit(1)
		}
		runs = runs[:0]
		for _, d := range dirs {
			runs = append(runs, moduleRun{dir: d, pkgs: []string{"./..."}})
		}
	}
	if err := benchReport(*out, *benchtime, runs); err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		os.Exit(1)
	}
}

// moduleRun is one go test run: packages of the module in dir.
type moduleRun struct {
	dir  string
	pkgs []string
}

// moduleDirs lists the repository's modules: the root, then every other
// directory holding a go.mod (sdk, sdk/docker, plugins/NAME, ...).
func moduleDirs() ([]string, error) {
	dirs := []string{"."}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "go.mod" && filepath.Dir(path) != "." {
			dirs = append(dirs, filepath.Dir(path))
		}
		return nil
	})
	return dirs, err
}

func benchReport(out, benchtime string, runs []moduleRun) error {
	// -p 1: one package at a time, so benchmarks do not compete for the CPU.
	args := []string{"test", "-p", "1", "-count", "1", "-run", "^$", "-bench", ".", "-benchtime", benchtime}
	var dirs []string
	for _, m := range runs {
		dirs = append(dirs, m.dir)
	}
	cmdline := "go " + strings.Join(quoteArgs(args), " ") + " ./... in each module: " + strings.Join(dirs, ", ")
	if len(runs) == 1 {
		cmdline = "go " + strings.Join(quoteArgs(append(args, runs[0].pkgs...)), " ")
	}
	var captured bytes.Buffer
	started, load := time.Now(), firstLine("/proc/loadavg")
	var testErrs []string
	for _, m := range runs {
		fmt.Fprintf(os.Stderr, "benchreport: (%s) go %s\n", m.dir, strings.Join(quoteArgs(append(args, m.pkgs...)), " "))
		cmd := exec.Command("go", append(args, m.pkgs...)...)
		cmd.Dir = m.dir
		cmd.Stdout = io.MultiWriter(&captured, os.Stderr)
		cmd.Stderr = io.MultiWriter(&captured, os.Stderr)
		if err := cmd.Run(); err != nil {
			testErrs = append(testErrs, fmt.Sprintf("go test in %s: %v", m.dir, err))
		}
	}
	r, err := parseOutput(&captured)
	if err != nil {
		return fmt.Errorf("read go test output: %w", err)
	}
	if len(testErrs) > 0 && len(r.Failures) == 0 {
		r.Failures = append(r.Failures, testErrs...)
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

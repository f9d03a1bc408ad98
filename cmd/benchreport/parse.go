package main

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// run is what one `go test -bench` run printed.
type run struct {
	CPU      string
	GOOS     string
	GOARCH   string
	Results  []result
	Failures []string // packages or benchmarks that failed, one line each
}

// result is one benchmark line.
type result struct {
	Package string
	Name    string // without the -GOMAXPROCS suffix
	N       int
	Metrics []metric // ns/op first, then the benchmark's own
}

type metric struct {
	Value float64
	Unit  string
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.+)$`)

// parseOutput reads `go test -bench` output (not -json).
func parseOutput(r io.Reader) (run, error) {
	var out run
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimPrefix(line, "pkg: ")
		case strings.HasPrefix(line, "cpu: "):
			out.CPU = strings.TrimSpace(strings.TrimPrefix(line, "cpu: "))
		case strings.HasPrefix(line, "goos: "):
			out.GOOS = strings.TrimPrefix(line, "goos: ")
		case strings.HasPrefix(line, "goarch: "):
			out.GOARCH = strings.TrimPrefix(line, "goarch: ")
		case strings.HasPrefix(line, "--- FAIL: "):
			out.Failures = append(out.Failures, strings.TrimSpace(strings.TrimPrefix(line, "--- FAIL: "))+" ("+pkg+")")
		case strings.HasPrefix(line, "FAIL\t"):
			out.Failures = append(out.Failures, strings.TrimSpace(strings.TrimPrefix(line, "FAIL\t")))
		default:
			if m := benchLine.FindStringSubmatch(line); m != nil {
				n, _ := strconv.Atoi(m[2])
				out.Results = append(out.Results, result{Package: pkg, Name: m[1], N: n, Metrics: parseMetrics(m[3])})
			}
		}
	}
	return out, sc.Err()
}

// parseMetrics reads "123 ns/op	4.5 ms-to-x" pairs.
func parseMetrics(s string) []metric {
	var ms []metric
	f := strings.Fields(s)
	for i := 0; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			break
		}
		ms = append(ms, metric{Value: v, Unit: f[i+1]})
	}
	return ms
}

// doc is what a benchmark's doc comment says: the method, and the target
// from a paragraph starting "Target:".
type doc struct {
	Method, Target string
}

// readDocs reads the doc comments of the Benchmark functions in dir's
// test files, by function name.
func readDocs(dir string) (map[string]doc, error) {
	docs := map[string]doc{}
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			continue // a file mid-edit: its benchmarks just go undocumented
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Benchmark") || fn.Doc == nil {
				continue
			}
			docs[fn.Name.Name] = splitDoc(fn.Doc.Text())
		}
	}
	return docs, nil
}

// splitDoc joins a doc comment's prose paragraphs into one line, keeps
// what follows "Target:" (to the end of its paragraph) apart and drops
// indented (code) lines.
func splitDoc(text string) doc {
	var d doc
	var method []string
	for _, para := range strings.Split(text, "\n\n") {
		var lines []string
		for _, l := range strings.Split(para, "\n") {
			if strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "  ") || strings.TrimSpace(l) == "" {
				continue
			}
			lines = append(lines, strings.TrimSpace(l))
		}
		p := strings.Join(lines, " ")
		if before, target, ok := strings.Cut(p, "Target:"); ok {
			d.Target = strings.TrimSpace(target)
			p = strings.TrimSpace(before)
		}
		if p != "" {
			method = append(method, p)
		}
	}
	d.Method = strings.Join(method, " ")
	return d
}

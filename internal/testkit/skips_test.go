package testkit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// No test of the repository (every module's) skips unless the user asked
// for a short run: a Skip is allowed only inside `if testing.Short() {…}`.
// A test of a real component (Redis, Docker, tmux) that finds it missing
// fails and says what to install; `make test` installs it first
// (scripts/prereqs).
func TestNoTestSkipsSilently(t *testing.T) {
	var bad []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(Root(), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, pos := range unguardedSkips(f) {
			p := fset.Position(pos)
			rel, _ := filepath.Rel(Root(), p.Filename)
			bad = append(bad, rel+":"+strconv.Itoa(p.Line))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("tests skip without -short (a missing component must fail the test and say what to install):\n%s", strings.Join(bad, "\n"))
	}
}

// unguardedSkips finds calls to Skip, Skipf and SkipNow (of a testing.T,
// B or TB) that no enclosing `if` guards with testing.Short().
func unguardedSkips(f *ast.File) []token.Pos {
	var out []token.Pos
	var stack []ast.Node
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		stack = append(stack, n)
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "Skip" && sel.Sel.Name != "Skipf" && sel.Sel.Name != "SkipNow") || len(stack) < 2 {
			return true
		}
		for i := len(stack) - 2; i >= 0; i-- {
			if ifs, ok := stack[i].(*ast.IfStmt); ok && mentionsShort(ifs.Cond) && within(ifs.Body, call) {
				return true
			}
		}
		out = append(out, call.Pos())
		return true
	})
	return out
}

func mentionsShort(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Short" {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "testing" {
				found = true
			}
		}
		return !found
	})
	return found
}

func within(b *ast.BlockStmt, n ast.Node) bool { return b.Pos() <= n.Pos() && n.End() <= b.End() }

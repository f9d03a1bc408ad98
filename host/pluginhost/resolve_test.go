package pluginhost

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestResolve(t *testing.T) {
	root := t.TempDir()
	exe := writeFile(t, filepath.Join(root, "one", "demohost-one"), 0o755)
	writeFile(t, filepath.Join(root, "one", "README"), 0o644) // ignored: not executable
	writeFile(t, filepath.Join(root, "prefixed", "helper.sh"), 0o755)
	prefixed := writeFile(t, filepath.Join(root, "prefixed", "demohost-p"), 0o755)
	writeFile(t, filepath.Join(root, "two", "a"), 0o755)
	writeFile(t, filepath.Join(root, "two", "b"), 0o755)
	writeFile(t, filepath.Join(root, "none", "notes.txt"), 0o644)
	plain := writeFile(t, filepath.Join(root, "plain.txt"), 0o644)
	searchA := filepath.Join(root, "searchA")
	searchB := filepath.Join(root, "searchB")
	inA := writeFile(t, filepath.Join(searchA, "demohost-named"), 0o755)
	writeFile(t, filepath.Join(searchB, "named"), 0o755) // later on the path: loses
	inB := writeFile(t, filepath.Join(searchB, "onlyb", "demohost-onlyb"), 0o755)
	search := []string{searchA, searchB}

	tests := []struct {
		name, arg string
		want      string // resolved path, or
		wantErr   string // a piece of the error
	}{
		{"executable", exe, exe, ""},
		{"directory with one executable", filepath.Join(root, "one"), exe, ""},
		{"demohost-* wins in a directory", filepath.Join(root, "prefixed"), prefixed, ""},
		{"bare name, first on the search path", "named", inA, ""},
		{"bare name naming a directory", "onlyb", inB, ""},
		{"empty", "", "", "no plugin given"},
		{"missing path", filepath.Join(root, "nope"), "", "does not exist: build it with `make build`"},
		{"unknown bare name", "nosuch", "", `plugin "nosuch" not found in $DEMOHOST_PLUGIN_PATH or ./plugins`},
		{"directory without a plugin", filepath.Join(root, "none"), "", "no plugin executable in directory"},
		{"directory with two", filepath.Join(root, "two"), "", "holds 2 executables (a, b): pass the one you mean"},
		{"not executable", plain, "", "is not executable: run `chmod +x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.arg, search)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve(%q) = %q, %v; want an error containing %q", tt.arg, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Resolve(%q) = %q, %v; want %q", tt.arg, got, err, tt.want)
			}
		})
	}
}

func TestSearchPath(t *testing.T) {
	got := strings.Join(SearchPath("/a::/b"), ",")
	if got != "/a,/b,plugins" {
		t.Fatalf("SearchPath = %s; want /a,/b,plugins", got)
	}
}

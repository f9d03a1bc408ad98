package demohostv1_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedCodeIsFresh regenerates the Go code from subject.proto the
// way `make proto` does (Debian's protoc, the protoc-gen-go and
// protoc-gen-go-grpc versions pinned in go.mod) and fails if the committed
// files differ: someone edited the .proto without running `make proto`.
func TestGeneratedCodeIsFresh(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		t.Skip("protoc is not installed (apt-get install protobuf-compiler; .ci/run does)")
	}
	root := moduleRoot(t)
	genGo, genGRPC := goTool(t, root, "protoc-gen-go"), goTool(t, root, "protoc-gen-go-grpc")
	out := t.TempDir()
	protoc := exec.Command("protoc", "-I", "sdk/proto",
		"--plugin=protoc-gen-go="+genGo, "--plugin=protoc-gen-go-grpc="+genGRPC,
		"--go_out="+out, "--go_opt=paths=source_relative",
		"--go-grpc_out="+out, "--go-grpc_opt=paths=source_relative",
		"sdk/proto/demohost/v1/subject.proto")
	protoc.Dir = root
	if b, err := protoc.CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, b)
	}
	for _, name := range []string{"subject.pb.go", "subject_grpc.pb.go"} {
		fresh, err := os.ReadFile(filepath.Join(out, "demohost", "v1", name))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("sdk/proto/demohost/v1/%s is stale: run `make proto` and commit the result", name)
		}
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(b)) == "" {
		t.Fatalf("find the module root: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(b)))
}

// goTool returns the path of a tool pinned in go.mod, building it if needed.
func goTool(t *testing.T, root, name string) string {
	t.Helper()
	cmd := exec.Command("go", "tool", "-n", name)
	cmd.Dir = root
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("go tool -n %s: %v", name, err)
	}
	return strings.TrimSpace(string(b))
}

package wire_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/internal/testkit"
	"github.com/demohost/demohost/sdk"
)

// TestGeneratedCopiesAreFresh regenerates both sides' Go code from the one
// proto/demohost/v2/subject.proto the way `make proto` does and fails if a
// committed file differs: someone edited the .proto (or one copy) without
// running `make proto`, and host and sdk would no longer speak the same wire.
func TestGeneratedCopiesAreFresh(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		t.Fatal("protoc is not installed: apt-get install protobuf-compiler (.ci/run does)")
	}
	root := testkit.Root()
	out := t.TempDir()
	gen := exec.Command("bash", "proto/generate.sh", out)
	gen.Dir = root
	if b, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("proto/generate.sh: %v\n%s", err, b)
	}
	for _, copy := range []string{"internal/wire", "sdk/internal/wire"} {
		for _, name := range []string{"subject.pb.go", "subject_grpc.pb.go"} {
			rel := filepath.Join(copy, name)
			fresh, err := os.ReadFile(filepath.Join(out, rel))
			if err != nil {
				t.Fatal(err)
			}
			committed, err := os.ReadFile(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(fresh, committed) {
				t.Errorf("%s is stale: run `make proto` and commit the result", rel)
			}
		}
	}
}

// TestHandshakeIsTheSameOnBothSides: a plugin built with the sdk must pass
// the host's handshake.
func TestHandshakeIsTheSameOnBothSides(t *testing.T) {
	if pluginhost.ProtocolVersion != sdk.ProtocolVersion || pluginhost.MagicCookieKey != sdk.MagicCookieKey || pluginhost.MagicCookieValue != sdk.MagicCookieValue {
		t.Errorf("host speaks protocol %d with cookie %s=%s; sdk speaks %d with %s=%s",
			pluginhost.ProtocolVersion, pluginhost.MagicCookieKey, pluginhost.MagicCookieValue,
			sdk.ProtocolVersion, sdk.MagicCookieKey, sdk.MagicCookieValue)
	}
}

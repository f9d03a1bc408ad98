package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// On a machine missing what the tests run against, for a user who cannot
// install packages, `make test` stops before any test with one line naming
// what to install (scripts/prereqs), exit 2: no test runs without Redis and
// passes for it. The machine is simulated: a PATH holding only bash, a
// non-root id and a sudo that refuses.
func TestPrereqsSayWhatToInstall(t *testing.T) {
	bin := t.TempDir()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bash, filepath.Join(bin, "bash")); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"id": "echo 1000", "sudo": "exit 1"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!"+bash+"\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bash, filepath.Join(Root(), "scripts", "prereqs"))
	cmd.Env = []string{"PATH=" + bin, "HOME=" + t.TempDir()}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	exit, ok := err.(*exec.ExitError)
	if !ok || exit.ExitCode() != 2 {
		t.Fatalf("prereqs: %v; want exit 2\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	line := strings.TrimSuffix(stderr.String(), "\n")
	if strings.Contains(line, "\n") || stdout.String() != "" {
		t.Errorf("want one line on stderr and nothing on stdout; got %q and %q", line, stdout.String())
	}
	for _, want := range []string{"make test needs redis-server redis-tools", "sudo apt-get install -y redis-server redis-tools", "tmux"} {
		if !strings.Contains(line, want) {
			t.Errorf("prereqs said %q; want it to contain %q", line, want)
		}
	}
}

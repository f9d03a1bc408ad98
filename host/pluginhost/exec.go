package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin/runner"
)

// Identity is what was executed: the executable's SHA-256 (hex) and the
// user id owning it. The chaos log records it, and `demohost recover`
// refuses to run a plugin whose identity changed since (host/session).
type Identity struct {
	Path   string
	SHA256 string
	Owner  int
}

// Identify hashes the executable at path as it is now.
func Identify(path string) (Identity, error) {
	f, id, err := openExecutable(path)
	if err != nil {
		return Identity{}, err
	}
	f.Close()
	return id, nil
}

// openExecutable opens path and hashes it through the open file, which is
// what Launch then executes (/proc/self/fd/N): what is hashed is what runs,
// however the path changes meanwhile.
func openExecutable(path string) (*os.File, Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Identity{}, fmt.Errorf("plugin %s: %w", path, err)
	}
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, Identity{}, fmt.Errorf("plugin %s is not a regular file: pass a plugin executable", path)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		f.Close()
		return nil, Identity{}, fmt.Errorf("plugin %s: %w", path, err)
	}
	id := Identity{Path: path, SHA256: hex.EncodeToString(h.Sum(nil)), Owner: -1}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		id.Owner = int(st.Uid)
	}
	return f, id, nil
}

// socketTempDir is where go-plugin makes the directory for a plugin's
// socket: tmp, unless the socket's path would run past what a unix socket
// address holds (108 bytes), then /tmp.
func socketTempDir(tmp string) string {
	const sun = 108 - len("/plugin-dir1234567890/plugin1234567890")
	if len(tmp) >= sun {
		return "/tmp"
	}
	return tmp
}

// execFD is where the opened executable is in the plugin process (its
// first extra file), and what it executes.
const execFD = 3

// procRunner runs the plugin for go-plugin (ClientConfig.RunnerFunc): the
// executable opened and hashed by Launch, stdin on /dev/null, in a session
// of its own with no controlling terminal, with the environment Launch
// chose plus what go-plugin adds (its cookie, ports, certificate and the
// directory for its socket). go-plugin's own runner would hand the plugin
// the host's stdin and whole environment.
type procRunner struct {
	cmd            *exec.Cmd
	log            hclog.Logger
	stdout, stderr io.ReadCloser
	socketDir      string // go-plugin's directory for the plugin's socket
}

// newRunner prepares cmd (made by Launch) with what go-plugin set in its
// own (gp): the environment it needs.
func newRunner(cmd *exec.Cmd, gp *exec.Cmd, log hclog.Logger, socketDir string) (*procRunner, error) {
	cmd.Env = append(cmd.Env, gp.Env...)
	cmd.Stdin = nil // /dev/null
	r := &procRunner{cmd: cmd, log: log, socketDir: socketDir}
	var err error
	if r.stdout, err = cmd.StdoutPipe(); err != nil {
		return nil, err
	}
	if r.stderr, err = cmd.StderrPipe(); err != nil {
		return nil, err
	}
	return r, nil
}

var _ runner.Runner = (*procRunner)(nil)

func (r *procRunner) Start(context.Context) error {
	r.log.Debug("starting plugin", "path", r.Name())
	if err := r.cmd.Start(); err != nil {
		return err
	}
	r.log.Debug("plugin started", "path", r.Name(), "pid", r.cmd.Process.Pid)
	return nil
}

func (r *procRunner) Wait(context.Context) error { return r.cmd.Wait() }

func (r *procRunner) Kill(context.Context) error {
	if r.cmd.Process == nil {
		return nil
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func (r *procRunner) Stdout() io.ReadCloser           { return r.stdout }
func (r *procRunner) Stderr() io.ReadCloser           { return r.stderr }
func (r *procRunner) Name() string                    { return r.cmd.Args[0] }
func (r *procRunner) Diagnose(context.Context) string { return "" }

func (r *procRunner) ID() string {
	if r.cmd.Process == nil {
		return ""
	}
	return strconv.Itoa(r.cmd.Process.Pid)
}

func (r *procRunner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (r *procRunner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}

// runnerFunc is the ClientConfig.RunnerFunc that runs cmd; it hands the
// runner to started.
func runnerFunc(cmd *exec.Cmd, started func(*procRunner)) func(hclog.Logger, *exec.Cmd, string) (runner.Runner, error) {
	return func(log hclog.Logger, gp *exec.Cmd, socketDir string) (runner.Runner, error) {
		r, err := newRunner(cmd, gp, log, socketDir)
		if err == nil {
			started(r)
		}
		return r, err
	}
}

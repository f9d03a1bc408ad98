package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/demohost/demohost/internal/wire"
)

// The handshake (docs/PROTOCOL.md). The cookie is the same for every
// protocol version, so a plugin of another version is told about the
// version rather than taken for a stranger.
const (
	ProtocolVersion  = 2
	MagicCookieKey   = "DEMOHOST_PLUGIN"
	MagicCookieValue = "subject-v1-5c1e0b7a"
	pluginName       = "subject"
)

var handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   MagicCookieKey,
	MagicCookieValue: MagicCookieValue,
}

// hostPlugin is the go-plugin shim of the host's side: it hands out a
// *Client for the connection.
type hostPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (hostPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the host does not serve subjects")
}

func (hostPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return NewClient(wire.NewSubjectClient(c)), nil
}

// Defaults of Config.
const (
	DefaultStartTimeout = 10 * time.Second
	DefaultCallTimeout  = 15 * time.Second
	// closeTimeout bounds how long Close waits for the plugin to revert,
	// tear down and exit after SIGTERM (the sdk itself allows 20s).
	closeTimeout = 25 * time.Second
)

// MaxMessage bounds one message from a plugin (a chapter list, a health
// snapshot): far above what a subject needs, far below what would hurt the
// host. What the host keeps of a message is bounded again by
// subject.LimitChapter and subject.LimitHealth.
const MaxMessage = 64 << 20

// Config says how to launch a plugin.
type Config struct {
	// Path is the plugin executable (see Resolve). It is opened, hashed and
	// executed through that one open file (/proc/self/fd/N), never through
	// a shell, so SHA256 pins what actually runs.
	Path string
	// SHA256 pins the executable (hex); a mismatch means it never starts.
	SHA256 string
	// Env names variables of the host's environment passed to the plugin
	// besides those PluginEnv always passes (--plugin-env NAME).
	Env []string
	// Logger receives go-plugin's messages and whatever the plugin writes
	// to stderr or stdout (default: discarded). Never the terminal.
	Logger hclog.Logger
	// StartTimeout bounds the handshake (default DefaultStartTimeout).
	StartTimeout time.Duration
	// CallTimeout is the deadline of every unary RPC made without one
	// (default DefaultCallTimeout). Streams are bounded by their context.
	CallTimeout time.Duration
}

// Plugin is a running subject plugin. Close it on every exit path.
type Plugin struct {
	// Subject is the plugin's side of the contract.
	Subject *Client
	// Identity is what runs: the executable's hash and owner.
	Identity Identity
	client   *plugin.Client
	cmd      *exec.Cmd
	closed   sync.Once
	// socketDir holds the plugin's socket (go-plugin removes it in Kill;
	// Shutdown, when it leaves the plugin running).
	socketDir string
}

// ParseSHA256 checks a --plugin-sha256 value and returns its bytes.
func ParseSHA256(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("--plugin-sha256 %q is not a SHA-256 in hex: pass the 64 hex digits `sha256sum PLUGIN` prints", s)
	}
	return b, nil
}

// Launch starts the plugin, completes the handshake (gRPC only, automatic
// mutual TLS) and returns it ready for calls. The executable is opened and
// hashed once, and that open file is what runs (checked against SHA256
// first, when set). The plugin gets no terminal: stdin on /dev/null, a
// session (and process group) of its own with no controlling terminal, so
// a terminal's Ctrl-C reaches only the host; its environment is PluginEnv's
// choice; it gets SIGTERM if the host dies. Errors are one line that says
// what to do.
func Launch(cfg Config) (*Plugin, error) {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	var pin []byte
	if cfg.SHA256 != "" {
		var err error
		if pin, err = ParseSHA256(cfg.SHA256); err != nil {
			return nil, err
		}
	}
	exe, id, err := openExecutable(cfg.Path)
	if err != nil {
		return nil, err
	}
	defer exe.Close() // the plugin holds its own copy from its start
	if pin != nil && hex.EncodeToString(pin) != id.SHA256 {
		return nil, fmt.Errorf("plugin %s does not match --plugin-sha256: its SHA-256 is %s; it was not started (pin the new hash only if you trust this build)", cfg.Path, id.SHA256)
	}

	cmd := exec.Command(fmt.Sprintf(fdPath, execFD))
	cmd.Args[0] = cfg.Path
	cmd.ExtraFiles = []*os.File{exe}
	cmd.Env = PluginEnv(os.Environ(), cfg.Env)
	cmd.SysProcAttr = processAttr()
	p := &Plugin{cmd: cmd, Identity: id}
	stderr := newPluginStderr(cfg.Logger.Named(filepath.Base(cfg.Path)))
	// Not Managed: every exit path ends the plugin through Close or Shutdown,
	// and plugin.CleanupClients would kill a plugin Shutdown left to finish
	// reverting on its own.
	cc := &plugin.ClientConfig{
		HandshakeConfig:  handshake,
		VersionedPlugins: map[int]plugin.PluginSet{ProtocolVersion: {pluginName: hostPlugin{}}},
		RunnerFunc:       runnerFunc(cmd, func(r *procRunner) { p.socketDir = r.socketDir }),
		SkipHostEnv:      true, // PluginEnv chose what passes
		UnixSocketConfig: &plugin.UnixSocketConfig{TempDir: socketTempDir(os.TempDir())},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     cfg.StartTimeout,
		Logger:           goPluginLogger{Logger: cfg.Logger, stderrName: filepath.Base(cfg.Path)},
		Stderr:           stderr, // go-plugin passes stderr on line by line
		// What the plugin prints once serving is streamed over gRPC: log it too.
		SyncStdout: cfg.Logger.Named("stdout").StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true}),
		SyncStderr: cfg.Logger.Named("stderr").StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true}),
		GRPCDialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(defaultDeadline(cfg.CallTimeout)),
			// After go-plugin's (unlimited) size: a plugin's answer is bounded.
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessage))},
	}
	p.client = plugin.NewClient(cc)
	client := p.client

	rpc, err := client.Client()
	if err != nil {
		p.Close() // waits for go-plugin to have passed all of stderr on
		cfg.Logger.Error("plugin handshake failed", "path", cfg.Path, "error", err.Error())
		return nil, launchError(cfg, err, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout)
	err = confirm(ctx, rpc)
	cancel()
	if err != nil {
		cfg.Logger.Error("plugin connection failed", "path", cfg.Path, "error", err.Error())
		// go-plugin set cc.TLSConfig (AutoMTLS): probe with the same one.
		var addr net.Addr
		if rc := client.ReattachConfig(); rc != nil {
			addr = rc.Addr
		}
		probeErr := probeTLS(addr, cc.TLSConfig, cfg.StartTimeout)
		if probeErr != nil {
			cfg.Logger.Error("plugin TLS handshake failed", "path", cfg.Path, "error", probeErr.Error())
		}
		err = connectError(cfg, err, probeErr, func() (bool, string) {
			// An error TLS does not explain may be a plugin that died after
			// its handshake line: give it a moment to be seen exiting.
			gone := p.WaitExited(exitNoticeWait)
			p.Close()
			e, _ := p.ExitStatus()
			return gone, e.String()
		}, stderr)
		p.Close()
		return nil, err
	}
	raw, err := rpc.Dispense(pluginName)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("plugin %s: %w", cfg.Path, err)
	}
	sub, ok := raw.(*Client)
	if !ok {
		p.Close()
		return nil, fmt.Errorf("plugin %s served %T, not a demohost subject: rebuild it with this demohost's sdk", cfg.Path, raw)
	}
	p.Subject = sub
	return p, nil
}

// exitNoticeWait is how long Launch waits to see whether a plugin it cannot
// connect to has exited.
const exitNoticeWait = time.Second

// PID is the plugin process id (its process group id too).
func (p *Plugin) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the plugin process has ended (e.g. crashed).
func (p *Plugin) Exited() bool { return p.client.Exited() }

// WaitExited reports whether the plugin process ends within d.
func (p *Plugin) WaitExited(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if _, ended := p.ExitStatus(); ended {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Close ends the plugin: SIGTERM, on which sdk.Serve reverts any chaos still
// active and tears down, then waits for it to exit (bounded), and kills
// whatever is left in its process group, the plugin included, so no child
// outlives it (a child holding the plugin's stderr would also keep go-plugin
// waiting). Safe to call more than once.
func (p *Plugin) Close() { p.Shutdown(context.Background()) }

// Shutdown is Close, except that if ctx ends while the plugin is still
// reverting and tearing down, it stops waiting and leaves the plugin to
// finish on its own (sdk.Serve bounds that cleanup and then exits). It
// reports whether it left the plugin running.
func (p *Plugin) Shutdown(ctx context.Context) (detached bool) {
	p.closed.Do(func() {
		proc := p.cmd.Process
		if proc == nil {
			p.client.Kill()
			return
		}
		if p.Subject != nil && !p.exited() {
			_ = proc.Signal(syscall.SIGTERM)
			deadline := time.Now().Add(closeTimeout)
			for !p.exited() && time.Now().Before(deadline) {
				if ctx.Err() != nil {
					// The connection is made: the socket's path is of no
					// more use, and no one would remove it after the host.
					if p.socketDir != "" {
						_ = os.RemoveAll(p.socketDir)
					}
					detached = true
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		// The group may be empty already; ESRCH is fine.
		_ = syscall.Kill(-proc.Pid, syscall.SIGKILL)
		p.client.Kill()
	})
	return detached
}

// exited reports whether the plugin process has ended, even if go-plugin
// has not reaped it yet.
func (p *Plugin) exited() bool {
	return p.client.Exited() || processEnded(p.cmd.Process.Pid)
}

// defaultDeadline gives every unary RPC without a deadline one of d, so a
// hung plugin cannot block the host forever.
func defaultDeadline(d time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

var pluginVersionRE = regexp.MustCompile(`Plugin version: (\d+)`)

// launchError turns go-plugin's start errors into one line naming the
// problem and the fix.
func launchError(cfg Config, err error, tail *pluginStderr) error {
	path, msg := cfg.Path, err.Error()
	notPlugin := "build plugins with sdk.Serve (see sdk/README.md, or docs/PROTOCOL.md in another language) and pass that executable"
	if herr := handshakeError(cfg, msg, tail); herr != nil {
		return herr
	}
	switch {
	case strings.Contains(msg, "incompatible API version"):
		theirs := "another"
		if m := pluginVersionRE.FindStringSubmatch(msg); m != nil {
			theirs = m[1]
		}
		return fmt.Errorf("plugin %s speaks demohost protocol %s, this demohost speaks protocol %d: rebuild the plugin against this demohost's sdk (or use a demohost of protocol %s)", path, theirs, ProtocolVersion, theirs)
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("plugin %s did not finish the handshake within %s: its main must call sdk.Serve and print nothing before it (its stderr is in the log file)", path, cfg.StartTimeout)
	case strings.HasPrefix(msg, "Unrecognized remote plugin message: "):
		first, _, _ := strings.Cut(strings.TrimPrefix(msg, "Unrecognized remote plugin message: "), "\n")
		if first == "" {
			return fmt.Errorf("%s is not a demohost plugin: it exited without the plugin handshake%s; %s", path, parens(tail.lastWords()), notPlugin)
		}
		return fmt.Errorf("%s is not a demohost plugin: it printed %q instead of the plugin handshake; %s", path, truncate(first, 60), notPlugin)
	case strings.Contains(msg, "plugin exited before we could connect"):
		return fmt.Errorf("%s is not a demohost plugin: it exited without the plugin handshake%s; %s", path, parens(tail.lastWords()), notPlugin)
	case strings.Contains(msg, "unsupported plugin protocol"):
		return fmt.Errorf("plugin %s serves net/rpc, demohost needs gRPC: build it with sdk.Serve (see sdk/README.md)", path)
	case errors.Is(err, syscall.ENOEXEC) || strings.Contains(msg, "exec format error"):
		return fmt.Errorf("%s cannot be executed (exec format error): pass a plugin built for this machine, e.g. with `make build`", path)
	default:
		first, _, _ := strings.Cut(msg, "\n")
		return fmt.Errorf("plugin %s failed to start: %s (details in the log file)", path, first)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

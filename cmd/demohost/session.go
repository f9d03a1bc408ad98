package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/sdk"
)

// startTimeoutEnv overrides the plugin handshake timeout (a Go duration);
// tests shorten it, a slow machine may lengthen it.
const startTimeoutEnv = "DEMOHOST_START_TIMEOUT"

// session is a launched and configured plugin with its chapters checked,
// and the log both write to. Close it on every path.
type session struct {
	log      hclog.Logger
	logPath  string
	logFile  io.Closer
	path     string // plugin executable
	launch   pluginhost.Config
	set      map[string]string // --set options, for Configure
	mu       sync.Mutex        // guards plugin and closed: relaunch swaps it
	plugin   *pluginhost.Plugin
	closed   bool
	died     bool // a plugin process of this session exited by itself
	desc     *sdk.Description
	chapters []*sdk.Chapter
}

// openSession runs the common start of every command: log file, resolve,
// launch, Describe, Configure(--set), Chapters, sdk.ValidateChapters.
func openSession(c common) (_ *session, err error) {
	s := &session{logPath: c.logFile}
	if s.logPath == "" {
		if s.logPath, err = pluginhost.DefaultLogPath(os.Getenv); err != nil {
			return nil, err
		}
	}
	if s.log, s.logFile, err = pluginhost.OpenLog(s.logPath); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.log.Error("start failed", "error", err)
			s.Close()
		}
	}()

	startTimeout, err := durationEnv(startTimeoutEnv)
	if err != nil {
		return nil, err
	}
	if s.path, err = pluginhost.Resolve(c.plugin, pluginhost.SearchPath(os.Getenv(pluginhost.PathEnv))); err != nil {
		return nil, err
	}
	s.log.Info("launching plugin", "path", s.path, "pinned", c.sha256 != "")
	s.launch = pluginhost.Config{
		Path:         s.path,
		SHA256:       c.sha256,
		Logger:       s.log.Named("plugin"),
		StartTimeout: startTimeout,
	}
	s.set = c.set
	s.plugin, err = pluginhost.Launch(s.launch)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if s.desc, err = s.plugin.Subject.Describe(ctx); err != nil {
		return nil, s.rpcError("Describe", err)
	}
	if err = s.plugin.Subject.Configure(ctx, c.set); err != nil {
		if status.Code(err) == codes.InvalidArgument {
			return nil, errors.New(status.Convert(err).Message())
		}
		return nil, s.rpcError("Configure", err)
	}
	if s.chapters, err = s.plugin.Subject.Chapters(ctx); err != nil {
		return nil, s.rpcError("Chapters", err)
	}
	if err = sdk.ValidateChapters(s.chapters, s.desc.ChaosTypes); err != nil {
		return nil, fmt.Errorf("plugin %s returned an invalid chapter list: %v; fix its Chapters (sdk.ValidateChapters in the plugin's tests catches this)", s.path, err)
	}
	return s, nil
}

// relaunch replaces a plugin that crashed or hangs with a fresh process of
// the same binary, configured with the same options, and stops the old one.
// The runner then calls the new plugin's Setup, which reconciles what the
// old process left behind. It is the TUI's `r` key.
func (s *session) relaunch() (runner.Subject, error) {
	s.log.Warn("relaunching the plugin", "path", s.path)
	p, err := pluginhost.Launch(s.launch)
	if err != nil {
		return nil, err
	}
	if err := p.Subject.Configure(context.Background(), s.set); err != nil {
		p.Close()
		return nil, s.rpcError("Configure", err)
	}
	s.mu.Lock()
	old, closed := s.plugin, s.closed
	if !closed {
		s.plugin = p
		s.died = s.died || old.Exited()
	}
	s.mu.Unlock()
	if closed {
		p.Close()
		return nil, errors.New("demohost is shutting down")
	}
	stop, cancel := context.WithTimeout(context.Background(), relaunchStopWait)
	defer cancel()
	old.Shutdown(stop)
	return p.Subject, nil
}

// pluginExited says whether a plugin process of this session ended by
// itself (the current one, or one that relaunch replaced).
func (s *session) pluginExited() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.died || s.plugin.Exited()
}

// waitPluginExit says whether the plugin in use now has ended, waiting up
// to d for it to do so.
func (s *session) waitPluginExit(d time.Duration) bool {
	s.mu.Lock()
	p := s.plugin
	s.mu.Unlock()
	deadline := time.Now().Add(d)
	for !p.Exited() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// relaunchStopWait bounds how long a relaunch waits for the old plugin.
const relaunchStopWait = 5 * time.Second

// Close ends the plugin (the sdk reverts anything still active) and closes
// the log.
func (s *session) Close() { s.shutdown(context.Background(), io.Discard) }

// shutdown is Close for a run: if the plugin takes more than a second to
// revert and tear down it says so on stderr, and once stopWaiting ends it
// leaves the plugin to finish on its own.
func (s *session) shutdown(stopWaiting context.Context, stderr io.Writer) {
	s.mu.Lock()
	p := s.plugin
	s.closed = true
	s.mu.Unlock()
	if p != nil {
		slow := time.AfterFunc(time.Second, func() {
			fmt.Fprintln(stderr, "demohost: waiting for the plugin to finish reverting and tearing down (Ctrl-C to stop waiting)")
		})
		if p.Shutdown(stopWaiting) {
			s.log.Warn("stopped waiting for the plugin; it finishes its cleanup on its own", "pid", p.PID())
			fmt.Fprintf(stderr, "demohost: stopped waiting; the plugin (pid %d) finishes reverting and tearing down on its own\n", p.PID())
		}
		slow.Stop()
	}
	if s.logFile != nil {
		s.log.Info("demohost exiting")
		_ = s.logFile.Close()
	}
}

// rpcError says which call failed and why, without gRPC's framing.
func (s *session) rpcError(call string, err error) error {
	st := status.Convert(err)
	switch st.Code() {
	case codes.DeadlineExceeded:
		return fmt.Errorf("plugin %s did not answer %s in time: it may be hung (its log is in %s)", s.path, call, s.logPath)
	case codes.Unavailable:
		return fmt.Errorf("plugin %s stopped answering during %s: it may have crashed (its log is in %s)", s.path, call, s.logPath)
	default:
		return fmt.Errorf("plugin %s: %s failed: %s", s.path, call, st.Message())
	}
}

// durationEnv reads an optional duration from the environment.
func durationEnv(name string) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 10s, or unset it", name, v)
	}
	return d, nil
}

// Package session is a demo run's lifecycle, from the plugin's launch to
// its exit: launch, describe, check and configure (Open); set up, walk the
// chapters and tear down through the runner, with crash handling and
// relaunch (Run); shutdown (Close); and `demohost recover` (Recover). The
// command line only parses flags, picks a view and maps the outcome to an
// exit code.
package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/host/sanitize"
	"github.com/demohost/demohost/host/subject"
)

// Config says which plugin to start and how.
type Config struct {
	// Plugin is the --plugin argument: a path, a directory or a bare name.
	Plugin string
	// SHA256 pins the plugin executable (hex), "" for none.
	SHA256 string
	// Set holds the --set options; the host checks them against the
	// plugin's schema before Configure.
	Set map[string]string
	// LogFile receives the host's and the plugin's log ("" for the default).
	LogFile string
	// StartTimeout bounds the handshake (0: pluginhost's default).
	StartTimeout time.Duration
	// PluginEnv names variables passed to the plugin besides those
	// pluginhost.PluginEnv always passes (--plugin-env NAME).
	PluginEnv []string
}

// Session is a launched and configured plugin with its chapters checked,
// and the log both write to. Close it on every path.
type Session struct {
	Log     hclog.Logger
	LogPath string
	// Path is the plugin executable; Identity what of it runs (recorded in
	// the chaos log for recover, and pinned for every relaunch).
	Path     string
	Identity pluginhost.Identity
	// Description, Options (checked, defaults filled) and Chapters (checked,
	// faults' parameters filled) are what the plugin said at Open.
	Description subject.Description
	Options     map[string]string
	Chapters    []subject.Chapter

	logFile io.Closer
	launch  pluginhost.Config
	// stopWaiting ends when Shutdown should stop waiting for the plugin's
	// own cleanup (a second signal); sig watches the signals from Run on.
	stopWaiting context.Context
	dontWait    context.CancelFunc
	sig         *signals
	mu          sync.Mutex // guards plugin, closed and died: Relaunch swaps the plugin
	plugin      *pluginhost.Plugin
	closed      bool
	died        bool // a plugin process of this session exited by itself
}

// Open opens the log, resolves and launches the plugin, asks what it is,
// checks the --set options against its schema, configures it, and checks
// its chapters. Errors are one line that says what to do.
func Open(cfg Config) (_ *Session, err error) {
	s := &Session{LogPath: cfg.LogFile}
	s.stopWaiting, s.dontWait = context.WithCancel(context.Background())
	if s.LogPath == "" {
		if s.LogPath, err = pluginhost.DefaultLogPath(os.Getenv); err != nil {
			return nil, err
		}
	}
	if s.Log, s.logFile, err = pluginhost.OpenLog(s.LogPath); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Log.Error("start failed", "error", err)
			s.Close()
		}
	}()
	if s.Path, err = pluginhost.Resolve(cfg.Plugin, pluginhost.SearchPath(os.Getenv(pluginhost.PathEnv))); err != nil {
		return nil, err
	}
	s.Log.Info("launching plugin", "path", s.Path, "pinned", cfg.SHA256 != "")
	s.launch = pluginhost.Config{Path: s.Path, SHA256: cfg.SHA256, Env: cfg.PluginEnv, Logger: s.Log.Named("plugin"), StartTimeout: cfg.StartTimeout}
	if s.plugin, err = pluginhost.Launch(s.launch); err != nil {
		return nil, err
	}
	// A relaunch (after a crash, or r) runs this very build, or nothing.
	s.Identity = s.plugin.Identity
	s.launch.SHA256 = s.Identity.SHA256
	p, err := Prepare(context.Background(), s.plugin.Subject, cfg.Set, "plugin "+s.Path, s.CallError)
	if err != nil {
		return nil, err
	}
	s.Description, s.Options, s.Chapters = p.Description, p.Options, p.Chapters
	return s, nil
}

// Prepared is a configured plugin as a run needs it.
type Prepared struct {
	Description subject.Description
	// Options are the checked --set options, defaults filled in.
	Options map[string]string
	// Chapters are checked, their faults' parameters filled in.
	Chapters []subject.Chapter
}

// Prepare is what Open does with a plugin once it answers, wherever it
// runs (a process, or in-process in the sdk's test harness): describe it,
// check the --set options against its schema, configure it, and check its
// chapters. what names the plugin in errors ("plugin PATH"); callError
// turns a failed call into the line a user sees.
func Prepare(ctx context.Context, c *pluginhost.Client, set map[string]string, what string, callError func(call string, err error) error) (Prepared, error) {
	var p Prepared
	var err error
	if p.Description, err = c.Describe(ctx); err != nil {
		return p, callError("Describe", err)
	}
	if err = subject.CheckDescription(p.Description); err != nil {
		return p, fmt.Errorf("%s describes itself wrongly: %v; fix its Describe", what, err)
	}
	if p.Options, err = subject.CheckOptions(p.Description, set); err != nil {
		return p, err
	}
	if err = configure(ctx, c, p.Options, callError); err != nil {
		return p, err
	}
	if p.Chapters, err = c.Chapters(ctx); err != nil {
		return p, callError("Chapters", err)
	}
	if err = subject.PrepareChapters(p.Description, p.Chapters); err != nil {
		return p, fmt.Errorf("%s returned an invalid chapter list: %v; fix its Chapters", what, err)
	}
	return p, nil
}

// configure passes the checked options; a refusal is the plugin's own line.
func configure(ctx context.Context, c *pluginhost.Client, opts map[string]string, callError func(string, error) error) error {
	err := c.Configure(ctx, opts)
	if errors.Is(err, subject.ErrRefused) {
		return err
	}
	if err != nil {
		return callError("Configure", err)
	}
	return nil
}

// Plugin is the plugin in use now.
func (s *Session) Plugin() subject.Plugin {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.plugin.Subject
}

// Relaunch replaces a plugin that crashed or hangs with a fresh process of
// the same binary, configured with the same options, and stops the old
// one. The runner then calls the new plugin's Setup, which reconciles what
// the old process left behind (the TUI's r key); the crash path reverts
// through it.
func (s *Session) Relaunch() (subject.Plugin, error) {
	s.Log.Warn("relaunching the plugin", "path", s.Path)
	p, err := pluginhost.Launch(s.launch)
	if err != nil {
		return nil, err
	}
	if err := configure(context.Background(), p.Subject, s.Options, s.CallError); err != nil {
		p.Close()
		return nil, err
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

// relaunchStopWait bounds how long a relaunch waits for the old plugin.
const relaunchStopWait = 5 * time.Second

// PluginExited says whether a plugin process of this session ended by
// itself (the current one, or one that Relaunch replaced).
func (s *Session) PluginExited() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.died || s.plugin.Exited()
}

// waitPluginExit says whether the plugin in use now has ended, waiting up
// to d for it to do so (go-plugin notices a moment after the connection
// breaks).
func (s *Session) waitPluginExit(d time.Duration) bool {
	s.mu.Lock()
	p := s.plugin
	s.mu.Unlock()
	return p.WaitExited(d)
}

// Close ends the plugin (the sdk reverts anything still active) and closes
// the log.
func (s *Session) Close() { s.Shutdown(io.Discard) }

// Shutdown is Close after a run: if the plugin takes more than a second to
// revert and tear down it says so on stderr, and after a second signal it
// stops waiting and leaves the plugin to finish on its own. Signals stay
// handled until it returns.
func (s *Session) Shutdown(stderr io.Writer) {
	defer s.dontWait()
	if s.sig != nil {
		defer s.sig.stop()
	}
	s.mu.Lock()
	p := s.plugin
	s.closed = true
	s.mu.Unlock()
	if p != nil {
		slow := time.AfterFunc(time.Second, func() {
			fmt.Fprintln(stderr, "demohost: waiting for the plugin to finish reverting and tearing down (Ctrl-C to stop waiting)")
		})
		if p.Shutdown(s.stopWaiting) {
			s.Log.Warn("stopped waiting for the plugin; it finishes its cleanup on its own", "pid", p.PID())
			sanitize.Fprintf(stderr, "demohost: stopped waiting; the plugin (pid %d) finishes reverting and tearing down on its own", p.PID())
		}
		slow.Stop()
	}
	if s.logFile != nil {
		s.Log.Info("demohost exiting")
		_ = s.logFile.Close()
		s.logFile = nil
	}
}

// CallError says which call failed and why, in the plugin's words.
func (s *Session) CallError(call string, err error) error {
	switch {
	case errors.Is(err, subject.ErrTimedOut):
		return fmt.Errorf("plugin %s did not answer %s in time: it may be hung (its log is in %s)", s.Path, call, s.LogPath)
	case errors.Is(err, subject.ErrUnreachable):
		if s.waitPluginExit(pluginExitWait) {
			s.mu.Lock()
			e, _ := s.plugin.ExitStatus()
			s.mu.Unlock()
			return fmt.Errorf("plugin %s ended during %s (%s): its log is in %s", s.Path, call, e, s.LogPath)
		}
		return fmt.Errorf("plugin %s stopped answering during %s: %v (its log is in %s)", s.Path, call, err, s.LogPath)
	default:
		return fmt.Errorf("plugin %s: %s failed: %v", s.Path, call, err)
	}
}

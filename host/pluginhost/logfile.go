package pluginhost

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
)

// DefaultLogPath is $XDG_STATE_HOME/demohost/demohost.log, else
// ~/.local/state/demohost/demohost.log (getenv is os.Getenv in production).
func DefaultLogPath(getenv func(string) string) (string, error) {
	if dir := getenv("XDG_STATE_HOME"); dir != "" {
		return filepath.Join(dir, "demohost", "demohost.log"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", fmt.Errorf("no log file: neither $XDG_STATE_HOME nor $HOME is set; pass --log-file FILE")
	}
	return filepath.Join(home, ".local", "state", "demohost", "demohost.log"), nil
}

// OpenLog opens (appending) the log file at path, creating its directory
// (0700) and the file (0600: it holds what plugins print), and returns a
// logger writing to it. go-plugin's messages and the plugin's stderr go
// there, never to the terminal. Close the returned closer on exit.
func OpenLog(path string) (hclog.Logger, io.Closer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("log file %s: %w; pass --log-file FILE in a writable directory", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("log file %s: %w; pass --log-file FILE in a writable directory", path, err)
	}
	if info, err := f.Stat(); err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o077 != 0 {
		_ = f.Chmod(0o600) // a log an older demohost made readable to others
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:   "demohost",
		Output: f,
		Level:  hclog.Debug,
	})
	return logger, f, nil
}

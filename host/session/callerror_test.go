package session_test

import (
	"path/filepath"
	"testing"

	"github.com/demohost/demohost/host/session"
)

// A plugin that dies after a good handshake is said to have ended, with
// its exit code: no "it may have crashed" guess.
func TestAPluginThatExitsDuringDescribeIsSaidToHaveEnded(t *testing.T) {
	t.Setenv("HANDSHAKE_FAULT", "exit-on-describe")
	logFile := filepath.Join(t.TempDir(), "demohost.log")
	s, err := session.Open(session.Config{Plugin: handshakePlg, LogFile: logFile, PluginEnv: pluginEnv})
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded; want Describe to fail")
	}
	want := "plugin " + handshakePlg + " ended during Describe (exited with code 4): its log is in " + logFile
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
}

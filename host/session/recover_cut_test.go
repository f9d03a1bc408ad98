package session_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/demohost/demohost/host/session"
	"github.com/demohost/demohost/internal/testkit"
)

// A host that died while writing an injection leaves a line cut short: the
// fault it recorded cannot be reverted by its handle. The start-up warning
// names it and sends the user to recover, which reverts what it can and has
// a fresh plugin process tear down what that run left; the log then goes.
func TestRecoverTearsDownAfterAnEntryCutShort(t *testing.T) {
	callsFile := script(t, freeze(true))
	chaosDir := t.TempDir()
	s, _ := open(t, scriptedPlg, nil)
	abandon(t, s, chaosDir)
	s.Close()
	logs := files(t, chaosDir)
	if len(logs) != 1 {
		t.Fatalf("chaos logs: %v", logs)
	}
	f, err := os.OpenFile(logs[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"op":"inject","at":"2026-11-30T10:00:00Z","handle":"FREEZE@7","chaos":{"name":"fre`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var warned testkit.Buffer
	session.WarnAbandoned(chaosDir, &warned)
	if !strings.Contains(warned.String(), "an entry cut short") || !strings.Contains(warned.String(), "run `demohost recover`") {
		t.Errorf("warning = %q; want the entry cut short and the command that handles it", warned.String())
	}
	var stdout testkit.Buffer
	if err := session.Recover(session.RecoverOptions{ChaosDir: chaosDir, LogFile: filepath.Join(t.TempDir(), "log")}, &stdout); err != nil {
		t.Fatalf("recover: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "reverted FREEZE on node-1") || !strings.Contains(stdout.String(), "tore down what the run of "+scriptedPlg+" left") {
		t.Errorf("recover said %q", stdout.String())
	}
	calls := readCalls(t, callsFile)
	if last := calls[len(calls)-1]; last.name != "teardown" || callsBy(calls, last.pid) != "configure revert teardown" {
		t.Errorf("calls = %+v; want a fresh process configured, reverting, then tearing down", calls)
	}
	if left := files(t, chaosDir); len(left) != 0 {
		t.Errorf("log kept after recover tore down: %v", left)
	}
}

package session

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// A session is closed on every path, so closing it again after Shutdown
// (a deferred Close beside an explicit Shutdown) must be harmless.
func TestShutdownThenCloseIsSafe(t *testing.T) {
	s := &Session{Log: hclog.NewNullLogger()}
	s.stopWaiting, s.dontWait = context.WithCancel(context.Background())
	s.sig = watchSignals(make(chan os.Signal), signalActions{log: s.Log, exit: func(int) { t.Error("exit") }})
	s.Shutdown(io.Discard)
	s.Shutdown(io.Discard)
	s.Close()
}

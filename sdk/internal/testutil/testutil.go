// Package testutil holds what the sdk's own tests share: waiting for a
// condition with a deadline, never a bare sleep.
package testutil

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// WaitFor polls cond every 10ms until it holds, failing the test with what
// it waited for once d has passed.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ProcessEnded reports whether process pid has ended: it is gone, or a
// zombie waiting to be reaped.
func ProcessEnded(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(after, "Z")
}

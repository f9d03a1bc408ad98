// Command markerplugin is a test fixture: a subject whose setup and chaos
// leave marker files in $MARKER_DIR, so tests can see from outside whether
// the sdk reverted and tore down on every exit path. With $MARKER_HANG set,
// its Setup also starts a child process (sleep) and writes its pid to
// $MARKER_HANG, and its RevertChaos never returns, ignoring its context.
package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/demohost/demohost/sdk"
)

type subject struct{ dir, hang string }

func (s subject) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "marker", Version: "0", Faults: []sdk.FaultKind{{Kind: "MARK", Description: "leave a marker file"}}}, nil
}
func (s subject) Configure(context.Context, sdk.ConfigureRequest) error { return nil }
func (s subject) Setup(context.Context, sdk.SetupRequest) error {
	if s.hang != "" {
		child := exec.Command("sleep", "300")
		if err := child.Start(); err != nil {
			return err
		}
		if err := os.WriteFile(s.hang, []byte(strconv.Itoa(child.Process.Pid)), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(s.dir, "setup"), nil, 0o644)
}
func (s subject) Teardown(context.Context, sdk.TeardownRequest) error {
	return os.Remove(filepath.Join(s.dir, "setup"))
}
func (s subject) Chapters(context.Context) ([]sdk.Chapter, error) {
	return []sdk.Chapter{{Title: "only"}}, nil
}
func (s subject) InjectChaos(_ context.Context, req sdk.InjectRequest) (sdk.Injected, error) {
	h := "chaos-" + req.Fault.Name
	return sdk.Injected{Handle: h}, os.WriteFile(filepath.Join(s.dir, h), nil, 0o644)
}
func (s subject) RevertChaos(_ context.Context, req sdk.RevertRequest) (sdk.Reverted, error) {
	if s.hang != "" {
		select {} // ignores its context
	}
	if !strings.HasPrefix(req.Handle, "chaos-") {
		return sdk.Reverted{}, os.ErrInvalid
	}
	err := os.Remove(filepath.Join(s.dir, req.Handle))
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	return sdk.Reverted{Detail: "removed " + req.Handle}, err
}
func (s subject) Health(context.Context) (sdk.HealthSnapshot, error) {
	return sdk.HealthSnapshot{}, nil
}

func main() { sdk.Serve(subject{dir: os.Getenv("MARKER_DIR"), hang: os.Getenv("MARKER_HANG")}) }

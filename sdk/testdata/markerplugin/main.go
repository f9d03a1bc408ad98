// Command markerplugin is a test fixture: a subject whose setup and chaos
// leave marker files in $MARKER_DIR, so tests can see from outside whether
// the sdk reverted and tore down on every exit path.
package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/demohost/demohost/sdk"
)

type subject struct{ dir string }

func (s subject) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{Name: "marker", Version: "0", ChaosTypes: []sdk.ChaosType{sdk.ContainerKill}}, nil
}
func (s subject) Configure(context.Context, sdk.Options) error { return nil }
func (s subject) Setup(context.Context, sdk.Progress) error {
	return os.WriteFile(filepath.Join(s.dir, "setup"), nil, 0o644)
}
func (s subject) Teardown(context.Context, sdk.Progress) error {
	return os.Remove(filepath.Join(s.dir, "setup"))
}
func (s subject) Chapters(context.Context) ([]*sdk.Chapter, error) {
	return []*sdk.Chapter{{Title: "only"}}, nil
}
func (s subject) EnterChapter(context.Context, int, sdk.Progress) error { return nil }
func (s subject) InjectChaos(_ context.Context, cfg *sdk.ChaosConfig) (*sdk.Injected, error) {
	h := "chaos-" + cfg.Name
	return &sdk.Injected{Handle: h}, os.WriteFile(filepath.Join(s.dir, h), nil, 0o644)
}
func (s subject) RevertChaos(_ context.Context, handle string, _ *sdk.ChaosConfig) error {
	if !strings.HasPrefix(handle, "chaos-") {
		return os.ErrInvalid
	}
	err := os.Remove(filepath.Join(s.dir, handle))
	if os.IsNotExist(err) {
		return nil
	}
	return err
}
func (s subject) Health(context.Context) (*sdk.HealthSnapshot, error) {
	return &sdk.HealthSnapshot{}, nil
}

func main() { sdk.Serve(subject{dir: os.Getenv("MARKER_DIR")}) }

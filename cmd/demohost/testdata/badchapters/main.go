// Command badchapters is a test plugin whose chapter uses a fault kind it
// does not declare (it declares NODE_KILL, its chapter pauses Redis), so
// the host must refuse the list before running anything.
package main

import (
	"context"

	"github.com/demohost/demohost/sdk"
)

type badChapters struct{}

func (badChapters) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "badchapters", Version: "1", Faults: []sdk.FaultKind{{Kind: "NODE_KILL", Description: "kill a node"}}}, nil
}

func (badChapters) Configure(context.Context, sdk.ConfigureRequest) error { return nil }

func (badChapters) Chapters(context.Context) ([]sdk.Chapter, error) {
	return []sdk.Chapter{{
		Title: "Pause Redis",
		Fault: &sdk.Fault{Name: "pause", Kind: sdk.RedisPause},
	}}, nil
}

func (badChapters) Setup(context.Context, sdk.SetupRequest) error       { return nil }
func (badChapters) Teardown(context.Context, sdk.TeardownRequest) error { return nil }

func (badChapters) InjectChaos(context.Context, sdk.InjectRequest) (sdk.Injected, error) {
	return sdk.Injected{Handle: "never"}, nil
}

func (badChapters) RevertChaos(context.Context, sdk.RevertRequest) (sdk.Reverted, error) {
	return sdk.Reverted{}, nil
}

func (badChapters) Health(context.Context) (sdk.HealthSnapshot, error) {
	return sdk.HealthSnapshot{}, nil
}

func main() { sdk.Serve(badChapters{}) }

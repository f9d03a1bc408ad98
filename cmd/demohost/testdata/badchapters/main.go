// Command badchapters is a test plugin: the example subject, except that
// its chapter list uses a chaos type the subject does not declare, so the
// host must refuse the list before running anything.
package main

import (
	"context"

	"github.com/demohost/demohost/plugins/example"
	"github.com/demohost/demohost/sdk"
)

type badChapters struct{ *example.Subject }

func (badChapters) Chapters(context.Context) ([]*sdk.Chapter, error) {
	return []*sdk.Chapter{{
		Title: "Pause Redis",
		Chaos: &sdk.ChaosConfig{Name: "pause", Type: sdk.RedisPause},
	}}, nil
}

func main() { sdk.Serve(badChapters{example.New()}) }

package tui

import (
	"context"
	"testing"

	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/subject"
)

// exampleRunner launches the example plugin at bin (stopped when the test
// ends), configures it with opts, checks its chapters and fills in their
// faults' parameters, as a session does, and returns a runner for it; cfg
// tunes the runner (Plugin, Description, Options and Chapters are set).
func exampleRunner(t testing.TB, bin string, opts map[string]string, cfg runner.Config) *runner.Runner {
	t.Helper()
	p, err := pluginhost.Launch(pluginhost.Config{Path: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	ctx := context.Background()
	desc, err := p.Subject.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	options, err := subject.CheckOptions(desc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Subject.Configure(ctx, options); err != nil {
		t.Fatal(err)
	}
	chapters, err := p.Subject.Chapters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := subject.PrepareChapters(desc, chapters); err != nil {
		t.Fatal(err)
	}
	cfg.Plugin, cfg.Description, cfg.Options, cfg.Chapters = p.Subject, desc, options, chapters
	return runner.New(cfg)
}

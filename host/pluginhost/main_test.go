package pluginhost

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/demohost/demohost/internal/testkit"
)

// examplePlugin is the example subject, built once for every test and
// benchmark of this package.
var examplePlugin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pluginhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	examplePlugin = filepath.Join(dir, "demohost-example")
	if err := testkit.GoBuild(examplePlugin, testkit.ExamplePlugin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

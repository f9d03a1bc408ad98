package pluginhost

import (
	"testing"

	"github.com/demohost/demohost/internal/testkit"
)

// examplePlugin is the example subject, built once for every test and
// benchmark of this package.
var examplePlugin string

func TestMain(m *testing.M) {
	testkit.MainWithBuilt(m, &examplePlugin, "demohost-example", testkit.ExamplePlugin)
}

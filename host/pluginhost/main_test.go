package pluginhost

import (
	"testing"

	"github.com/demohost/demohost/internal/testkit"
)

// Built once for every test and benchmark of this package: the example
// subject, and the test plugin that gets the handshake wrong on purpose
// (handshake_test.go), and the one whose every string is hostile
// (limits_test.go).
var examplePlugin, handshakePlugin, hostilePlugin string

func TestMain(m *testing.M) {
	testkit.MainWithBuiltAll(m, map[*string]string{&examplePlugin: testkit.ExamplePlugin, &handshakePlugin: "internal/testplugins/handshake",
		&hostilePlugin: testkit.HostilePlugin})
}

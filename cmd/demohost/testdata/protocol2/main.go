// Command protocol2 is a test plugin that speaks demohost protocol 2 (a
// future contract) with go-plugin directly, so the host must refuse it
// with a message naming both versions.
package main

import (
	"github.com/hashicorp/go-plugin"

	"github.com/demohost/demohost/plugins/example"
	"github.com/demohost/demohost/sdk"
)

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			MagicCookieKey:   sdk.Handshake.MagicCookieKey,
			MagicCookieValue: sdk.Handshake.MagicCookieValue,
		},
		VersionedPlugins: map[int]plugin.PluginSet{
			2: {sdk.PluginName: &sdk.GRPCPlugin{Impl: example.New()}},
		},
		GRPCServer: plugin.DefaultGRPCServer,
	})
}

// Command protocol1 is a test plugin that speaks demohost protocol 1 (the
// contract before this one) with go-plugin directly, so the host must
// refuse it with a message naming both versions. The handshake fails before
// any call, so it serves no service at all.
package main

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/demohost/demohost/host/pluginhost"
)

// subject is a go-plugin shim with nothing behind it.
type subject struct{ plugin.NetRPCUnsupportedPlugin }

func (subject) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }

func (subject) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (interface{}, error) {
	return nil, errors.New("a plugin has no client")
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			MagicCookieKey:   pluginhost.MagicCookieKey,
			MagicCookieValue: pluginhost.MagicCookieValue,
		},
		VersionedPlugins: map[int]plugin.PluginSet{1: {"subject": subject{}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}

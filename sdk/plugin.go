package sdk

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	v1 "github.com/demohost/demohost/sdk/proto/demohost/v1"
)

// ProtocolVersion is the contract version this sdk speaks.
const ProtocolVersion = 1

// PluginName is the name the subject is dispensed under.
const PluginName = "subject"

// Handshake is shared by host and plugin; a binary without the cookie is
// not a demohost plugin.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "DEMOHOST_PLUGIN",
	MagicCookieValue: "subject-v1-5c1e0b7a",
}

// VersionedPlugins is the plugin set per protocol version, for both sides.
// The host passes it with a nil Impl.
func VersionedPlugins(impl Subject) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &GRPCPlugin{Impl: impl}},
	}
}

// GRPCPlugin is the go-plugin shim: it serves Impl in the plugin and hands
// the host a *Client.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Subject
}

// GRPCServer registers the subject service.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	v1.RegisterSubjectServer(s, &server{impl: p.Impl})
	return nil
}

// GRPCClient returns a *Client for the host.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return &Client{rpc: v1.NewSubjectClient(c)}, nil
}

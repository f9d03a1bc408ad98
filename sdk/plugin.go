package sdk

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/demohost/demohost/sdk/internal/wire"
)

// ProtocolVersion is the contract version this sdk speaks.
const ProtocolVersion = 2

// The handshake (docs/PROTOCOL.md): the host sets MagicCookieKey to
// MagicCookieValue in the plugin's environment. The cookie stays the same
// across protocol versions, so a plugin of another version is told about
// the version, not taken for a stranger.
const (
	MagicCookieKey   = "DEMOHOST_PLUGIN"
	MagicCookieValue = "subject-v1-5c1e0b7a"
)

// pluginName is the name the subject is dispensed under.
const pluginName = "subject"

// wireServiceName is the gRPC service name on the wire. The sdk's copy of
// the generated code carries a package name of its own (see
// proto/generate.sh), so the service is registered under this one.
const wireServiceName = "demohost.v2.Subject"

// grpcPlugin is the go-plugin shim that serves a Subject.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Subject
}

// GRPCServer registers the subject service under the wire's name.
func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	RegisterSubject(s, p.impl)
	return nil
}

// RegisterSubject registers impl on s as the wire's Subject service, the
// way Serve does: converted at the edge, calls kept in order, health pushed
// on change. It is for serving a subject in-process in tests (sdk/sdktest
// does); a plugin's main calls Serve, which also reverts and tears down on
// every way out.
func RegisterSubject(s *grpc.Server, impl Subject) {
	desc := wire.Subject_ServiceDesc
	desc.ServiceName = wireServiceName
	s.RegisterService(&desc, newServer(impl))
}

// GRPCClient is not offered: the sdk is the plugin's side only.
func (p *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (interface{}, error) {
	return nil, errors.New("the sdk serves subjects; the host has its own client")
}

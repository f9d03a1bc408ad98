// Package wiretest reaches a served subject the way the host does, over the
// wire's service name, for the sdk's own tests.
package wiretest

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/demohost/demohost/sdk/internal/wire"
)

// PluginSet is a go-plugin client's plugin set: protocol 2's "subject",
// dispensed as a wire.SubjectClient.
func PluginSet() map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{2: {"subject": clientPlugin{}}}
}

type clientPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (clientPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("client only")
}

func (clientPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return NewClient(c), nil
}

// NewClient is a client of the sdk's copy of the generated code that calls
// the wire's method names (/demohost.v2.Subject/...).
func NewClient(cc grpc.ClientConnInterface) wire.SubjectClient {
	return wire.NewSubjectClient(canonical{cc})
}

// canonical rewrites the sdk copy's method names to the wire's.
type canonical struct{ grpc.ClientConnInterface }

func wireName(method string) string {
	return strings.Replace(method, "/demohost.v2.sdk.Subject/", "/demohost.v2.Subject/", 1)
}

func (c canonical) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return c.ClientConnInterface.Invoke(ctx, wireName(method), args, reply, opts...)
}

func (c canonical) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.ClientConnInterface.NewStream(ctx, desc, wireName(method), opts...)
}

// Drain receives a stream until it ends, handing each message to each (if
// not nil); io.EOF is the stream's normal end and returns nil.
func Drain[T any](recv func() (T, error), each func(T)) error {
	for {
		m, err := recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if each != nil {
			each(m)
		}
	}
}

package pluginhost

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Where docs/PROTOCOL.md explains each part of the handshake; errors point
// there, since a plugin in another language is written from that document.
const (
	docHandshake = `docs/PROTOCOL.md, "The handshake line"`
	docTLS       = `docs/PROTOCOL.md, "Mutual TLS"`
)

// cookieRefusal is what go-plugin's server prints on stderr before exiting
// when the cookie in its environment is not the one it expects.
const cookieRefusal = "This binary is a plugin. These are not meant to be executed directly."

// parens joins the non-empty parts in parentheses after a space, or is "".
func parens(parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		return ""
	}
	return " (" + strings.Join(kept, "; ") + ")"
}

// confirm makes a first call over the new connection — the health check
// go-plugin hosts use — so a plugin whose TLS is wrong fails in Launch with
// the cause, not at its first real call. Any answer from the plugin counts,
// even "unimplemented": the connection works. It returns the error of a
// call that got no answer.
func confirm(ctx context.Context, rpc plugin.ClientProtocol) error {
	g, ok := rpc.(*plugin.GRPCClient)
	if !ok {
		return nil
	}
	_, err := healthpb.NewHealthClient(g.Conn).Check(ctx, &healthpb.HealthCheckRequest{Service: plugin.GRPCServiceName})
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return err
	}
	return nil
}

// probeTLS opens a TLS connection of its own to the plugin at addr, as the
// gRPC connection does, and returns what went wrong as crypto/tls reports
// it (typed, unlike the text gRPC passes on), or nil if the plugin takes it.
// After the handshake it reads once: a plugin that refuses the client's
// certificate says so only then under TLS 1.3, while one that takes it
// sends its HTTP/2 settings.
func probeTLS(addr net.Addr, conf *tls.Config, timeout time.Duration) error {
	if addr == nil || conf == nil {
		return nil
	}
	raw, err := net.DialTimeout(addr.Network(), addr.String(), timeout)
	if err != nil {
		return err
	}
	conn := tls.Client(raw, conf.Clone())
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if err := conn.Handshake(); err != nil {
		return err
	}
	_ = conn.SetReadDeadline(time.Now().Add(probeReadWait))
	var b [1]byte
	_, err = conn.Read(b[:])
	switch {
	case err == nil, errors.Is(err, os.ErrDeadlineExceeded):
		return nil
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return errClosedAfterHandshake
	}
	return err
}

// errClosedAfterHandshake: the plugin hung up right after the TLS handshake
// without a word, as BoringSSL (Python's grpcio) does when it refuses the
// client's certificate under TLS 1.3.
var errClosedAfterHandshake = errors.New("the plugin closed the connection right after the TLS handshake")

// probeReadWait bounds the read after a probe's handshake: a refusal comes
// at once, and a plugin that says nothing has taken the certificate.
const probeReadWait = 500 * time.Millisecond

// connectError says in one line why the connection to a plugin that printed
// its handshake line failed: probeErr is what probeTLS found, rpcErr the
// error of the first call. When TLS does not explain it, exited says
// whether the plugin process ended by itself and how; tail is the end of
// its stderr.
func connectError(cfg Config, rpcErr, probeErr error, exited func() (bool, string), tail *pluginStderr) error {
	path := cfg.Path
	var (
		header   tls.RecordHeaderError
		hostname x509.HostnameError
		unknown  x509.UnknownAuthorityError
		op       *net.OpError
	)
	switch {
	case errors.As(probeErr, &header):
		return fmt.Errorf("plugin %s serves plain text where demohost expects TLS: serve gRPC over mutual TLS with a certificate for localhost (%s)", path, docTLS)
	case errors.As(probeErr, &hostname):
		c := hostname.Certificate
		if len(c.DNSNames) == 0 && len(c.IPAddresses) == 0 && c.Subject.CommonName == "localhost" {
			return fmt.Errorf("plugin %s serves a TLS certificate that names localhost only as its Common Name: put localhost in its subject alternative names (DNS) (%s)", path, docTLS)
		}
		return fmt.Errorf("plugin %s serves a TLS certificate valid for %s, not for localhost: make its certificate valid for the DNS name localhost (%s)", path, certNames(c), docTLS)
	case errors.As(probeErr, &unknown):
		return fmt.Errorf("plugin %s serves a TLS certificate other than the one in its handshake line (or the line has none): print the DER of the certificate it serves as the sixth field (%s)", path, docHandshake)
	case errors.As(probeErr, &op) && op.Op == "remote error":
		return fmt.Errorf("plugin %s refused demohost's client certificate (%v): require a client certificate and trust the one in PLUGIN_CLIENT_CERT as its only client CA (%s)", path, op.Err, docTLS)
	}
	if gone, how := exited(); gone {
		return fmt.Errorf("plugin %s ended right after its handshake line%s: see the log file", path, parens(how, tail.lastWords()))
	}
	switch {
	case errors.Is(probeErr, errClosedAfterHandshake):
		return fmt.Errorf("plugin %s hung up right after the TLS handshake, as a server does that refuses demohost's client certificate: require a client certificate and trust the one in PLUGIN_CLIENT_CERT as its only client CA (%s)", path, docTLS)
	case probeErr != nil && errors.Is(probeErr, os.ErrDeadlineExceeded):
		return fmt.Errorf("plugin %s printed its handshake line but did not complete a TLS handshake within %s (%s)", path, cfg.StartTimeout, docTLS)
	case probeErr != nil:
		return fmt.Errorf("plugin %s printed its handshake line but demohost cannot connect to it: %v (%s)", path, probeErr, docHandshake)
	case status.Code(rpcErr) == codes.DeadlineExceeded:
		return fmt.Errorf("plugin %s took the TLS connection but did not answer gRPC within %s: serve gRPC (HTTP/2) over it (%s)", path, cfg.StartTimeout, docHandshake)
	default:
		return fmt.Errorf("plugin %s took the TLS connection but its gRPC failed: %s (%s)", path, status.Convert(rpcErr).Message(), docHandshake)
	}
}

// certNames lists what a certificate is valid for: DNS names, then IPs.
func certNames(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "no name"
	}
	return strings.Join(names, ", ")
}

// handshakeError says in one line what was wrong with a plugin's handshake
// line, or returns nil for errors that are not about the line.
func handshakeError(cfg Config, msg string, tail *pluginStderr) error {
	path := cfg.Path
	switch {
	case strings.HasPrefix(msg, "error parsing server cert: illegal base64 data"):
		why := strings.TrimPrefix(msg, "error parsing server cert: ")
		return fmt.Errorf("plugin %s printed a certificate that is not unpadded standard base64 in its handshake line (%s): encode the certificate's DER with standard base64 and no '=' padding (%s)", path, why, docHandshake)
	case strings.HasPrefix(msg, "error parsing server cert: "):
		why := strings.TrimPrefix(msg, "error parsing server cert: ")
		return fmt.Errorf("plugin %s printed something other than a DER certificate in its handshake line (%s): print the DER of its certificate in unpadded standard base64 (%s)", path, why, docHandshake)
	case strings.Contains(msg, "incompatible core API version"):
		return fmt.Errorf("plugin %s printed a first field other than 1 (go-plugin's core protocol) in its handshake line (%s)", path, docHandshake)
	case strings.Contains(msg, "rror parsing core protocol version"), strings.Contains(msg, "rror parsing protocol version"), strings.Contains(msg, "unknown address type"):
		first, _, _ := strings.Cut(msg, "\n")
		return fmt.Errorf("plugin %s printed a malformed handshake line (%s) (%s)", path, first, docHandshake)
	case tail.contains(cookieRefusal):
		return fmt.Errorf("plugin %s refused demohost's cookie and exited: it expects a cookie other than %s=%s, so it belongs to another program; pass a demohost plugin (%s)", path, MagicCookieKey, MagicCookieValue, docHandshake)
	}
	return nil
}

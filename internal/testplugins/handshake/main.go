// Command handshake is a test plugin that speaks the plugin protocol by hand
// (docs/PROTOCOL.md), not through go-plugin's server, and gets one part of
// the handshake wrong on purpose, as $HANDSHAKE_FAULT says, so host tests
// can check that demohost says what went wrong:
//
//	""               nothing wrong: a subject named "handshake"
//	plaintext        no certificate in the handshake line, plain-text gRPC
//	wrong-name       a certificate valid for plugin.example and 127.0.0.1, not localhost
//	padded-base64    the certificate in padded base64
//	client-ca        trusts its own certificate as the client CA, not PLUGIN_CLIENT_CERT
//	cookie           go-plugin's server expecting another cookie value
//	protocol1        go-plugin's server offering protocol version 1 only
//	exit             a correct handshake line, then exit status 3
//	exit-on-describe nothing wrong until Describe, which exits with status 4
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/demohost/demohost/internal/wire"
)

const (
	cookieKey   = "DEMOHOST_PLUGIN"
	cookieValue = "subject-v1-5c1e0b7a"
)

func main() {
	fault := os.Getenv("HANDSHAKE_FAULT")
	switch fault {
	case "cookie":
		serveGoPlugin(cookieValue+"-other", 2)
		return
	case "protocol1":
		serveGoPlugin(cookieValue, 1)
		return
	}
	if os.Getenv(cookieKey) != cookieValue {
		fmt.Fprintln(os.Stderr, "handshake: started without the demohost cookie")
		os.Exit(1)
	}
	if err := serve(fault); err != nil {
		fmt.Fprintln(os.Stderr, "handshake:", err)
		os.Exit(1)
	}
}

// serve listens on a unix socket, prints the handshake line (wrong as fault
// says) and serves until SIGTERM.
func serve(fault string) error {
	dir, err := os.MkdirTemp("", "handshake-plugin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "plugin.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}

	names := []string{"localhost"}
	if fault == "wrong-name" {
		names = []string{"plugin.example"}
	}
	cert, err := selfSigned(names, fault == "padded-base64")
	if err != nil {
		return err
	}
	clientCAs := x509.NewCertPool()
	if fault == "client-ca" {
		clientCAs.AddCert(cert.Leaf)
	} else if !clientCAs.AppendCertsFromPEM([]byte(os.Getenv("PLUGIN_CLIENT_CERT"))) {
		return errors.New("PLUGIN_CLIENT_CERT holds no PEM certificate")
	}
	var opts []grpc.ServerOption
	certField := base64.RawStdEncoding.EncodeToString(cert.Certificate[0])
	switch fault {
	case "plaintext":
		certField = ""
	case "padded-base64":
		certField = base64.StdEncoding.EncodeToString(cert.Certificate[0])
	}
	if fault != "plaintext" {
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    clientCAs,
			MinVersion:   tls.VersionTLS12,
		})))
	}
	srv := grpc.NewServer(opts...)
	hs := health.NewServer()
	hs.SetServingStatus("plugin", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	wire.RegisterSubjectServer(srv, subject{})

	fmt.Printf("1|2|unix|%s|grpc|%s\n", sock, certField)
	if fault == "exit" {
		fmt.Fprintln(os.Stderr, "handshake: the subject failed to start: exiting on purpose")
		os.Exit(3)
	}
	go func() {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP)
		<-sigs
		srv.Stop()
	}()
	return srv.Serve(lis)
}

// selfSigned makes a certificate for names (DNS names, plus 127.0.0.1 when
// localhost is not one). With oddLength its DER length is not a multiple of
// three, so its standard base64 ends in padding.
func selfSigned(names []string, oddLength bool) (tls.Certificate, error) {
	for {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, err
		}
		serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
		if err != nil {
			return tls.Certificate{}, err
		}
		tmpl := &x509.Certificate{
			SerialNumber:          serial,
			Subject:               pkix.Name{CommonName: "handshake test plugin"},
			DNSNames:              names,
			NotBefore:             time.Now().Add(-time.Minute),
			NotAfter:              time.Now().Add(time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		if names[0] != "localhost" {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return tls.Certificate{}, err
		}
		if oddLength && len(der)%3 == 0 {
			continue
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			return tls.Certificate{}, err
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
	}
}

// subject answers Describe; nothing else is needed for a handshake.
type subject struct {
	wire.UnimplementedSubjectServer
}

func (subject) Describe(context.Context, *wire.DescribeRequest) (*wire.DescribeResponse, error) {
	if os.Getenv("HANDSHAKE_FAULT") == "exit-on-describe" {
		os.Exit(4)
	}
	return &wire.DescribeResponse{Name: "handshake", Version: "1"}, nil
}

// serveGoPlugin serves through go-plugin's own server with the given cookie
// value and protocol version.
func serveGoPlugin(cookie string, version int) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  plugin.HandshakeConfig{MagicCookieKey: cookieKey, MagicCookieValue: cookie},
		VersionedPlugins: map[int]plugin.PluginSet{version: {"subject": goPlugin{}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}

type goPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (goPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	wire.RegisterSubjectServer(s, subject{})
	return nil
}

func (goPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (interface{}, error) {
	return nil, errors.New("a plugin only serves")
}

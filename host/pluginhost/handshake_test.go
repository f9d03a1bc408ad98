package pluginhost

// Launch as a plugin author in any language meets it (docs/PROTOCOL.md):
// when a plugin gets the handshake wrong, each fault of the test plugins in
// internal/testplugins/handshake gives one line naming the real cause and
// pointing to the document, and the real error reaches the log; what a
// plugin writes on stderr reaches the log at the level it says, whatever it
// writes.

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/demohost/demohost/internal/testkit"
)

// pyPlugin is the Python sibling of handshakePlugin (main_test.go), for
// what a grpcio server does.
var pyPlugin = filepath.Join(testkit.Root(), "internal", "testplugins", "handshake", "handshake.py")

// children lists the live pids whose parent is pid.
func children(pid int) []int {
	return testkit.Processes(func(child int) bool {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(child), "stat"))
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		return err == nil && len(fields) > 1 && fields[1] == strconv.Itoa(pid)
	})
}

// launchFault starts a handshake test plugin with fault and returns Launch's error and
// the log. Whatever happened, no plugin process may be left.
func launchFault(t *testing.T, fault string) (error, string) {
	t.Helper()
	t.Setenv("HANDSHAKE_FAULT", fault)
	path := handshakePlugin
	if strings.HasPrefix(fault, "python") {
		path = pyPlugin
	}
	log := &testkit.Buffer{}
	p, err := Launch(Config{Path: path, StartTimeout: 10 * time.Second, Env: []string{"HANDSHAKE_FAULT"},
		Logger: hclog.New(&hclog.LoggerOptions{Output: log, Level: hclog.Debug})})
	if p != nil {
		p.Close()
	}
	testkit.WaitFor(t, 5*time.Second, "no plugin process left", func() bool { return len(children(os.Getpid())) == 0 })
	return err, log.String()
}

func TestAGoodHandshakeLaunches(t *testing.T) {
	for _, fault := range []string{"", "python"} {
		if err, _ := launchFault(t, fault); err != nil {
			t.Errorf("a plugin with a correct handshake (%q) did not launch: %v", fault, err)
		}
	}
}

func TestHandshakeFaultsSayWhatHappened(t *testing.T) {
	q := regexp.QuoteMeta
	tls := q(`(docs/PROTOCOL.md, "Mutual TLS")`)
	line := q(`(docs/PROTOCOL.md, "The handshake line")`)
	for _, tt := range []struct {
		fault string
		want  string // the whole line, as a regexp
		log   string // in the log: the real error
	}{
		{"plaintext",
			`plugin PATH serves plain text where demohost expects TLS: serve gRPC over mutual TLS with a certificate for localhost ` + tls,
			"first record does not look like a TLS handshake"},
		{"python-plaintext",
			`plugin PATH serves plain text where demohost expects TLS: serve gRPC over mutual TLS with a certificate for localhost ` + tls,
			"first record does not look like a TLS handshake"},
		{"wrong-name",
			`plugin PATH serves a TLS certificate valid for plugin\.example, 127\.0\.0\.1, not for localhost: make its certificate valid for the DNS name localhost ` + tls,
			"x509: certificate is valid for plugin.example, not localhost"},
		{"padded-base64",
			`plugin PATH printed a certificate that is not unpadded standard base64 in its handshake line \(illegal base64 data at input byte \d+\): encode the certificate's DER with standard base64 and no '=' padding ` + line,
			"error parsing server cert: illegal base64 data"},
		{"client-ca",
			`plugin PATH refused demohost's client certificate \(tls: certificate required\): require a client certificate and trust the one in PLUGIN_CLIENT_CERT as its only client CA ` + tls,
			"remote error: tls: certificate required"},
		{"python-client-ca",
			`plugin PATH hung up right after the TLS handshake, as a server does that refuses demohost's client certificate: require a client certificate and trust the one in PLUGIN_CLIENT_CERT as its only client CA ` + tls,
			"the plugin closed the connection right after the TLS handshake"},
		{"cookie",
			`plugin PATH refused demohost's cookie and exited: it expects a cookie other than DEMOHOST_PLUGIN=subject-v1-5c1e0b7a, so it belongs to another program; pass a demohost plugin ` + line,
			"This binary is a plugin. These are not meant to be executed directly."},
		{"protocol1",
			q(`plugin PATH speaks demohost protocol 1, this demohost speaks protocol 2: rebuild the plugin against this demohost's sdk (or use a demohost of protocol 1)`),
			"Plugin version: 1"},
		{"exit",
			q(`plugin PATH ended right after its handshake line (exited with code 3; its last line on stderr: "handshake: the subject failed to start: exiting on purpose"): see the log file`),
			"plugin connection failed"},
	} {
		t.Run(tt.fault, func(t *testing.T) {
			err, log := launchFault(t, tt.fault)
			if err == nil {
				t.Fatal("Launch succeeded; want the handshake refused")
			}
			path := handshakePlugin
			if strings.HasPrefix(tt.fault, "python") {
				path = pyPlugin
			}
			want := "^" + strings.ReplaceAll(tt.want, "PATH", q(path)) + "$"
			if !regexp.MustCompile(want).MatchString(err.Error()) {
				t.Errorf("error:\n%s\nwant it to match:\n%s", err, want)
			}
			if !strings.Contains(log, tt.log) {
				t.Errorf("the log lacks the real error %q:\n%s", tt.log, log)
			}
		})
	}
}

// Every stderr line reaches the log at the level it says, and no line can
// take the host down (go-plugin's own parser panicked on a JSON "@message"
// that is not a string).
func TestStderrLinesReachTheLogAtTheirLevel(t *testing.T) {
	script := filepath.Join(t.TempDir(), "demohost-stderr")
	body := `#!/bin/sh
echo '{"@message": 5, "@level": "info"}' >&2
echo '{"@level": "WARNING", "@message": "disk low", "node": "n1", "free": 3, "@timestamp": "2026-01-01T00:00:00Z"}' >&2
echo '{"@level": "error", "@message": "lost quorum"}' >&2
echo '[INFO] plain info' >&2
echo 'a plain line' >&2
echo 'Traceback (most recent call last):' >&2
echo '  File "plugin.py", line 1, in <module>' >&2
exit 1
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	log := &testkit.Buffer{}
	_, err := Launch(Config{Path: script, StartTimeout: 10 * time.Second,
		Logger: hclog.New(&hclog.LoggerOptions{Output: log, Level: hclog.Debug, Name: "demohost"})})
	want := `it exited without the plugin handshake (its last line on stderr: "File \"plugin.py\", line 1, in <module>")`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v; want it to say %s", err, want)
	}
	for _, line := range []string{
		`[DEBUG] demohost.demohost-stderr: {"@message": 5, "@level": "info"}`,
		`[WARN]  demohost.demohost-stderr: disk low: free=3 node=n1`,
		`[ERROR] demohost.demohost-stderr: lost quorum`,
		`[INFO]  demohost.demohost-stderr: [INFO] plain info`,
		`[DEBUG] demohost.demohost-stderr: a plain line`,
		`[ERROR] demohost.demohost-stderr: Traceback (most recent call last):`,
		`[ERROR] demohost.demohost-stderr:   File "plugin.py", line 1, in <module>`,
	} {
		if !strings.Contains(log.String(), line+"\n") {
			t.Errorf("the log lacks the line %q:\n%s", line, log.String())
		}
	}
}

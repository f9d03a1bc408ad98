package ratelimiter

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/demohost/demohost/plugins/ratelimiter/internal/testredis"
)

// runWithBasePort runs a headless demo with base_port and returns its exit
// code and what it said.
func runWithBasePort(t *testing.T, host string, port int) (int, string) {
	t.Helper()
	dir := t.TempDir()
	run := exec.Command(host, "--plugin", pluginBinary, "--headless", "--log-file", filepath.Join(dir, "demo.log"), "--set", "base_port="+strconv.Itoa(port))
	run.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state"))
	out, _ := run.CombinedOutput()
	return run.ProcessState.ExitCode(), string(out)
}

func assertPortRefused(t *testing.T, code int, out, addr string) {
	t.Helper()
	if code != 2 {
		t.Errorf("exit %d; want 2\n%s", code, out)
	}
	if want := "port " + addr; !strings.Contains(out, want) || !strings.Contains(out, "is in use by another program") || !strings.Contains(out, "set base_port to a free range") {
		t.Errorf("demohost does not say that %s is taken and what to do:\n%s", addr, out)
	}
}

// Ports are owned, not assumed: with base_port where another demo's Redis
// listens, the plugin refuses in one line (exit 2) instead of taking that
// Redis for its own and sending its traffic into it.
func TestBasePortOfAnotherRedisIsRefused(t *testing.T) {
	host := buildHost(t)
	_, addr := testredis.Start(t) // another demo's Redis
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	code, out := runWithBasePort(t, host, port)
	assertPortRefused(t, code, out, addr)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if n, err := rdb.DBSize(context.Background()).Result(); err != nil || n != 0 {
		t.Errorf("the other Redis holds %d keys (%v): the demo sent it traffic", n, err)
	}
}

// The same where another demo's node answers on a node's port.
func TestBasePortOfAnotherNodeIsRefused(t *testing.T) {
	host := buildHost(t)
	var asked atomic.Int32
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		_, _ = w.Write([]byte(`{"node":"node-1","redis":"ok","fail_policy":"open","pid":1}`))
	}))
	defer other.Close()
	port := portBelow(t, other) // base_port + 1 is the other node's port
	other.Start()
	code, out := runWithBasePort(t, host, port)
	assertPortRefused(t, code, out, other.Listener.Addr().String())
	if n := asked.Load(); n != 0 {
		t.Errorf("the other node was sent %d requests", n)
	}
}

// portBelow gives srv a listener on a port P+1 whose P is free, and returns
// P.
func portBelow(t *testing.T, srv *httptest.Server) int {
	t.Helper()
	for range 50 {
		below, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := below.Addr().(*net.TCPAddr).Port
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1))
		below.Close()
		if err == nil {
			srv.Listener.Close()
			srv.Listener = l
			return port
		}
	}
	t.Fatal("no two free ports in a row on 127.0.0.1")
	return 0
}

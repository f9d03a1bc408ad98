package etcd

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// latencyDetour delays one member's Raft links: the kernel here has no
// netem qdisc, so its peer connections are rewritten (nftables DNAT inside
// the member namespaces) to TCP proxies in the plugin — Shopify's toxiproxy
// server packages, used as a library, with a latency toxic on each
// direction. One proxy stands for the target member, for connections its
// peers open to it; one per peer stands for that peer, for connections the
// target opens. Each Raft message to or from the target crosses one proxy,
// and is delayed once.
//
// The proxies live in the plugin process: they cannot outlive it. A fresh
// process reverting the handle deletes the rules (the namespaces' tables),
// which is all that can be left.
type latencyDetour struct {
	target  *member
	peers   []*member
	table   string
	inbound *toxiproxy.Proxy            // stands for the target
	out     map[string]*toxiproxy.Proxy // peer id -> proxy standing for it
	proxies []*toxiproxy.Proxy
}

// startLatency starts the proxies (with their toxics) for target; apply
// then sends the links through them.
func startLatency(c *cluster, target *member, delay time.Duration) (*latencyDetour, map[string]string, error) {
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	d := &latencyDetour{target: target, table: tableName(c.owner.Pid, "latency"), out: map[string]*toxiproxy.Proxy{}}
	listen := hostPort(c.hostIP(), 0)
	add := func(name string, upstream net.IP) (*toxiproxy.Proxy, error) {
		p := toxiproxy.NewProxy(srv, name, listen, hostPort(upstream, peerPort))
		if err := p.Start(); err != nil {
			return nil, fmt.Errorf("latency proxy for %s: %w", name, err)
		}
		d.proxies = append(d.proxies, p)
		for _, dir := range []string{"upstream", "downstream"} {
			toxic := fmt.Sprintf(`{"name":"delay_%s","type":"latency","stream":"%s","toxicity":1,"attributes":{"latency":%d}}`, dir, dir, delay.Milliseconds())
			if _, err := p.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
				return nil, fmt.Errorf("latency toxic on %s: %w", name, err)
			}
		}
		return p, nil
	}
	var err error
	if d.inbound, err = add("to-"+target.id, target.ip); err != nil {
		d.close()
		return nil, nil, err
	}
	tables := map[string]string{target.node.NetNS(): d.table}
	for _, p := range c.members {
		if p == target {
			continue
		}
		d.peers = append(d.peers, p)
		if d.out[p.id], err = add(target.id+"-to-"+p.id, p.ip); err != nil {
			d.close()
			return nil, nil, err
		}
		tables[p.node.NetNS()] = d.table
	}
	return d, tables, nil
}

// apply writes the rules and moves the links onto the proxies: each
// peer's namespace sends its new connections to the target through the
// target's proxy; the target's namespace sends its new connections to
// peers through theirs (and resets stray direct traffic); then the direct
// connections made before — listed before the rules went in — are aborted,
// so etcd on both sides reconnects at once, through the proxies.
func (d *latencyDetour) apply() error {
	var peerIPs []net.IP
	for _, p := range d.peers {
		peerIPs = append(peerIPs, p.ip)
	}
	// Each direct connection is aborted from its client side (the side
	// that dialed the peer port): its 4-tuple has an ephemeral local port,
	// so once it is gone it cannot match the member's listening socket.
	direct := map[string][]netlink.SocketID{}
	var err error
	if direct[d.target.node.NetNS()], err = dialsTo(d.target.node.NetNS(), peerIPs); err != nil {
		return err
	}
	for _, p := range d.peers {
		if direct[p.node.NetNS()], err = dialsTo(p.node.NetNS(), []net.IP{d.target.ip}); err != nil {
			return err
		}
	}
	in := []detour{{Target: d.target.ip, Proxy: proxyAddr(d.inbound)}}
	for _, p := range d.peers {
		if err := applyTable(p.node.NetNS(), d.table, detourRules(in, nil, false)); err != nil {
			return err
		}
	}
	var detours []detour
	for _, p := range d.peers {
		detours = append(detours, detour{Target: p.ip, Proxy: proxyAddr(d.out[p.id])})
	}
	if err := applyTable(d.target.node.NetNS(), d.table, detourRules(detours, peerIPs, true)); err != nil {
		return err
	}
	var errs []error
	for ns, socks := range direct {
		errs = append(errs, abort(ns, socks))
	}
	return errors.Join(errs...)
}

// inetDiag opens a socket-diagnostics handle in the namespace at path ns.
func inetDiag(ns string) (*netlink.Handle, error) {
	h, err := netns.GetFromPath(ns)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", ns, err)
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h, unix.NETLINK_INET_DIAG)
	if err != nil {
		return nil, fmt.Errorf("socket diagnostics in %s: %w", ns, err)
	}
	return nh, nil
}

// dialsTo lists, in the namespace at path ns, the TCP connections dialed
// to the peer port of one of targets.
func dialsTo(ns string, targets []net.IP) ([]netlink.SocketID, error) {
	nh, err := inetDiag(ns)
	if err != nil {
		return nil, err
	}
	defer nh.Close()
	socks, err := nh.SocketDiagTCP(unix.AF_INET)
	if err != nil {
		return nil, fmt.Errorf("list connections in %s: %w", ns, err)
	}
	var out []netlink.SocketID
	for _, s := range socks {
		id := s.ID
		if id.DestinationPort == peerPort && id.SourcePort != peerPort &&
			slices.ContainsFunc(targets, func(p net.IP) bool { return p.Equal(id.Destination) }) {
			out = append(out, id)
		}
	}
	return out, nil
}

// abort destroys the listed connections in the namespace at path ns (the
// kernel resets both ends); one already gone is not an error.
func abort(ns string, socks []netlink.SocketID) error {
	if len(socks) == 0 {
		return nil
	}
	nh, err := inetDiag(ns)
	if err != nil {
		return err
	}
	defer nh.Close()
	var errs []error
	for _, id := range socks {
		local := &net.TCPAddr{IP: id.Source, Port: int(id.SourcePort)}
		remote := &net.TCPAddr{IP: id.Destination, Port: int(id.DestinationPort)}
		if err := nh.SocketDestroy(local, remote); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("abort %s->%s in %s: %w", local, remote, ns, err))
		}
	}
	return errors.Join(errs...)
}

func proxyAddr(p *toxiproxy.Proxy) *net.TCPAddr {
	a, _ := net.ResolveTCPAddr("tcp", p.Listen)
	return a
}

// close stops the proxies, closing the connections through them.
func (d *latencyDetour) close() {
	for _, p := range d.proxies {
		p.Stop()
	}
}

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

// apply writes the rules: each peer's namespace sends its new connections
// to the target through the target's proxy; then the target's namespace
// sends its connections to peers through their proxies and resets the
// direct ones, so both sides reconnect through the proxies at once.
func (d *latencyDetour) apply() error {
	in := []detour{{Target: d.target.ip, Proxy: proxyAddr(d.inbound)}}
	for _, p := range d.peers {
		if err := applyTable(p.node.NetNS(), d.table, detourRules(in, nil, false)); err != nil {
			return err
		}
	}
	var detours []detour
	var peerIPs []net.IP
	for _, p := range d.peers {
		detours = append(detours, detour{Target: p.ip, Proxy: proxyAddr(d.out[p.id])})
		peerIPs = append(peerIPs, p.ip)
	}
	ns := d.target.node.NetNS()
	if err := applyTable(ns, d.table, detourRules(detours, peerIPs, true)); err != nil {
		return err
	}
	return abortDirect(ns, peerIPs)
}

// abortDirect aborts, in the namespace at path ns, every Raft connection made before
// the detour: directly between the member and a peer. The kernel resets
// both ends (SOCK_DESTROY), so etcd on each side reconnects at once, now
// through the proxies. (The reset rules alone reach only the end that
// sends; a stream's reader sends nothing and would wait for its timeout.)
func abortDirect(ns string, peers []net.IP) error {
	h, err := netns.GetFromPath(ns)
	if err != nil {
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h, unix.NETLINK_INET_DIAG)
	if err != nil {
		return fmt.Errorf("socket diagnostics in %s: %w", ns, err)
	}
	defer nh.Close()
	socks, err := nh.SocketDiagTCP(unix.AF_INET)
	if err != nil {
		return fmt.Errorf("list connections in %s: %w", ns, err)
	}
	var errs []error
	for _, s := range socks {
		id := s.ID
		if id.SourcePort != peerPort && id.DestinationPort != peerPort {
			continue
		}
		if !slices.ContainsFunc(peers, func(p net.IP) bool { return p.Equal(id.Destination) }) {
			continue
		}
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

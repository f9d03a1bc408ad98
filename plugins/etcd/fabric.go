package etcd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// The network of one cluster (the "fabric"): a hub namespace holding a
// bridge, one namespace per member joined to the bridge by a veth pair, and
// one veth pair from the plugin's own namespace to the hub so the plugin's
// clients reach the members. Members talk to each other only inside
// namespaces the fabric created; the only link in the plugin's namespace is
// the host end of the hub pair. The bridge lives in the hub namespace, not
// in the plugin's, so the plugin namespace's firewall (Docker's FORWARD
// policy, say) never sees member-to-member traffic.
//
// Everything is named after the plugin process (its pid), so it is
// recognisably this plugin's and two demos never share a name:
//
//	namespaces  dh-etcd-<pid>-hub, dh-etcd-<pid>-m1 … -m5
//	host link   dhe<pid> (its peer is "host" inside the hub)
//	addresses   10.213.<n>.<member> / 24, the host end .254

// nsPrefix starts the name of every namespace this plugin creates.
const nsPrefix = "dh-etcd-"

// hostAddrOctet is the last octet of the host end of the hub link.
const hostAddrOctet = 254

// fabric names and addresses one cluster's namespaces.
type fabric struct {
	owner   int  // the plugin process' pid
	net     byte // the third octet of 10.213.<net>.0/24
	members int
}

func (f fabric) prefix() string { return fmt.Sprintf("%s%d-", nsPrefix, f.owner) }

// hubNS is the name of the hub namespace.
func (f fabric) hubNS() string { return f.prefix() + "hub" }

// memberNS is the name of member i's namespace (i from 1).
func (f fabric) memberNS(i int) string { return fmt.Sprintf("%sm%d", f.prefix(), i) }

// hostLink is the name of the host end of the hub link.
func (f fabric) hostLink() string { return fmt.Sprintf("dhe%d", f.owner) }

// memberIP is member i's address.
func (f fabric) memberIP(i int) net.IP { return net.IPv4(10, 213, f.net, byte(i)).To4() }

// hostIP is the address of the plugin's end of the hub link.
func (f fabric) hostIP() net.IP { return net.IPv4(10, 213, f.net, hostAddrOctet).To4() }

func (f fabric) subnet() *net.IPNet {
	return &net.IPNet{IP: net.IPv4(10, 213, f.net, 0).To4(), Mask: net.CIDRMask(24, 32)}
}

// namespaces lists every namespace name of the fabric, members first.
func (f fabric) namespaces() []string {
	var ns []string
	for i := 1; i <= f.members; i++ {
		ns = append(ns, f.memberNS(i))
	}
	return append(ns, f.hubNS())
}

// pickNet chooses a /24 in 10.213.0.0/16 that no address or route of the
// plugin's namespace overlaps, starting from one derived from the pid.
func pickNet(pid int) (byte, error) {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return 0, fmt.Errorf("list addresses: %w", err)
	}
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return 0, fmt.Errorf("list routes: %w", err)
	}
	for k := range 250 {
		n := byte((pid + k) % 250)
		sub := fabric{net: n}.subnet()
		taken := false
		for _, a := range addrs {
			if a.IPNet != nil && (sub.Contains(a.IP) || a.IPNet.Contains(sub.IP)) {
				taken = true
			}
		}
		for _, r := range routes {
			if r.Dst != nil && r.Dst.IP.To4() != nil && (sub.Contains(r.Dst.IP) || (r.Dst.Contains(sub.IP) && maskBits(r.Dst) > 0)) {
				taken = true
			}
		}
		if !taken {
			return n, nil
		}
	}
	return 0, errors.New("no free /24 in 10.213.0.0/16 for the cluster's namespaces; remove stale dhe* links (`ip -br addr`)")
}

func maskBits(n *net.IPNet) int { ones, _ := n.Mask.Size(); return ones }

// create builds the fabric. On error it removes what it made.
func (f fabric) create() (err error) {
	defer func() {
		if err != nil {
			_ = f.destroy()
		}
	}()
	hub, err := newNamedNS(f.hubNS())
	if err != nil {
		return err
	}
	defer hub.Close()
	hh, err := netlink.NewHandleAt(hub)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", f.hubNS(), err)
	}
	defer hh.Close()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
	if err := hh.LinkAdd(br); err != nil {
		return fmt.Errorf("bridge in %s: %w", f.hubNS(), err)
	}
	if err := hh.LinkSetUp(br); err != nil {
		return fmt.Errorf("bridge up: %w", err)
	}
	// The plugin's end of the hub link.
	host := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: f.hostLink()}, PeerName: "host", PeerNamespace: netlink.NsFd(int(hub))}
	if err := netlink.LinkAdd(host); err != nil {
		return fmt.Errorf("veth %s: %w", f.hostLink(), err)
	}
	hl, err := netlink.LinkByName(f.hostLink())
	if err != nil {
		return fmt.Errorf("veth %s: %w", f.hostLink(), err)
	}
	if err := netlink.AddrAdd(hl, &netlink.Addr{IPNet: &net.IPNet{IP: f.hostIP(), Mask: net.CIDRMask(24, 32)}}); err != nil {
		return fmt.Errorf("address on %s: %w", f.hostLink(), err)
	}
	if err := netlink.LinkSetUp(hl); err != nil {
		return fmt.Errorf("%s up: %w", f.hostLink(), err)
	}
	if err := attach(hh, br, "host"); err != nil {
		return err
	}
	for i := 1; i <= f.members; i++ {
		if err := f.createMember(hh, br, i); err != nil {
			return err
		}
	}
	return nil
}

// createMember makes member i's namespace and joins it to the bridge.
func (f fabric) createMember(hh *netlink.Handle, br netlink.Link, i int) error {
	name := f.memberNS(i)
	ns, err := newNamedNS(name)
	if err != nil {
		return err
	}
	defer ns.Close()
	port := fmt.Sprintf("m%d", i)
	if err := hh.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: port}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns))}); err != nil {
		return fmt.Errorf("veth for %s: %w", name, err)
	}
	if err := attach(hh, br, port); err != nil {
		return err
	}
	mh, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", name, err)
	}
	defer mh.Close()
	for _, l := range []string{"lo", "eth0"} {
		link, err := mh.LinkByName(l)
		if err != nil {
			return fmt.Errorf("%s in %s: %w", l, name, err)
		}
		if l == "eth0" {
			if err := mh.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: f.memberIP(i), Mask: net.CIDRMask(24, 32)}}); err != nil {
				return fmt.Errorf("address in %s: %w", name, err)
			}
		}
		if err := mh.LinkSetUp(link); err != nil {
			return fmt.Errorf("%s up in %s: %w", l, name, err)
		}
	}
	return nil
}

// attach puts the hub's link name on the bridge and brings it up.
func attach(hh *netlink.Handle, br netlink.Link, name string) error {
	l, err := hh.LinkByName(name)
	if err != nil {
		return fmt.Errorf("%s in the hub: %w", name, err)
	}
	if err := hh.LinkSetMaster(l, br); err != nil {
		return fmt.Errorf("%s on the bridge: %w", name, err)
	}
	if err := hh.LinkSetUp(l); err != nil {
		return fmt.Errorf("%s up: %w", name, err)
	}
	return nil
}

// destroy removes the host link and every namespace of the fabric (their
// links go with them). A namespace lives on while a process runs in it:
// stop the members first. Missing pieces are not an error.
func (f fabric) destroy() error {
	var errs []error
	if l, err := netlink.LinkByName(f.hostLink()); err == nil {
		if err := netlink.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", f.hostLink(), err))
		}
	}
	for _, name := range f.namespaces() {
		if err := deleteNamedNS(name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// newNamedNS creates a named network namespace without moving the calling
// goroutine's thread into it for longer than the call.
func newNamedNS(name string) (netns.NsHandle, error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return 0, fmt.Errorf("current namespace: %w", err)
	}
	defer orig.Close()
	ns, err := netns.NewNamed(name) // moves this thread into it
	if serr := netns.Set(orig); serr != nil {
		// The thread stays in a namespace that is not ours: let it die with
		// the goroutine instead of unlocking it.
		return 0, fmt.Errorf("return from namespace %s: %w", name, serr)
	}
	runtime.UnlockOSThread()
	if err != nil {
		return 0, fmt.Errorf("create namespace %s: %w", name, err)
	}
	return ns, nil
}

// deleteNamedNS removes a named namespace; a missing one is not an error.
func deleteNamedNS(name string) error {
	if _, err := os.Stat(filepath.Join(netnsDir, name)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return nil
}

// netnsDir is where named namespaces are mounted (as `ip netns` does).
const netnsDir = "/run/netns"

// ownedNamespaces lists the named namespaces whose name says plugin process
// pid made them.
func ownedNamespaces(pid int) []string {
	entries, _ := os.ReadDir(netnsDir)
	prefix := fmt.Sprintf("%s%d-", nsPrefix, pid)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

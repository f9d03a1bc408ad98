package etcd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Network faults are nftables tables inside the member namespaces the
// fabric created, never in the plugin's own namespace: deleting the table
// (or the namespace) is the whole revert. They are written through
// github.com/google/nftables over netlink rather than by running nft: no
// dependency on the nft binary or its syntax, one atomic batch per table,
// errors as values, and the namespace chosen by a file descriptor instead
// of `ip netns exec`.

// peerPort is the port members talk Raft on.
const peerPort = 2380

// clientPort is the port members serve clients on.
const clientPort = 2379

// tableName is the name of a fault's table: demohost_etcd_<pid>_<what>.
func tableName(owner int, what string) string { return fmt.Sprintf("demohost_etcd_%d_%s", owner, what) }

// nftIn opens an nftables connection to the namespace at path ns.
func nftIn(ns string) (*nftables.Conn, func(), error) {
	h, err := netns.GetFromPath(ns)
	if err != nil {
		return nil, nil, fmt.Errorf("namespace %s: %w", ns, err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(h)))
	if err != nil {
		h.Close()
		return nil, nil, fmt.Errorf("nftables in %s: %w", ns, err)
	}
	return c, func() { h.Close() }, nil
}

// applyTable creates table name in namespace ns with chains built by add;
// an existing table of that name is replaced.
func applyTable(ns, name string, add func(c *nftables.Conn, t *nftables.Table)) error {
	c, done, err := nftIn(ns)
	if err != nil {
		return err
	}
	defer done()
	t := &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4}
	// Replace: add (a no-op if it exists), delete, add again, all in one batch.
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	add(c, t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables table %s in %s: %w", name, ns, err)
	}
	return nil
}

// deleteTable removes table name from namespace ns. A missing namespace or
// table is not an error (already reverted).
func deleteTable(ns, name string) (bool, error) {
	if _, err := os.Stat(ns); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	c, done, err := nftIn(ns)
	if err != nil {
		return false, err
	}
	defer done()
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false, fmt.Errorf("list nftables tables in %s: %w", ns, err)
	}
	for _, t := range tables {
		if t.Name == name {
			c.DelTable(t)
			if err := c.Flush(); err != nil && !errors.Is(err, syscall.ENOENT) {
				return false, fmt.Errorf("delete nftables table %s in %s: %w", name, ns, err)
			}
			return true, nil
		}
	}
	return false, nil
}

// tablesIn lists the IPv4 table names in the namespace at path ns.
func tablesIn(ns string) ([]string, error) {
	c, done, err := nftIn(ns)
	if err != nil {
		return nil, err
	}
	defer done()
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range tables {
		out = append(out, t.Name)
	}
	return out, nil
}

func chain(c *nftables.Conn, t *nftables.Table, name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
	accept := nftables.ChainPolicyAccept
	return c.AddChain(&nftables.Chain{Name: name, Table: t, Type: typ, Hooknum: hook, Priority: prio, Policy: &accept})
}

// Match builders. Each loads into register 1 and compares.

func isTCP() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
	}
}

func port(offset uint32, p uint16) []expr.Any { // offset 0: source port, 2: destination port
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: offset, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p)},
	}
}

func addr(offset uint32, ip net.IP) []expr.Any { // offset 12: source, 16: destination
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip.To4()},
	}
}

const (
	srcPort, dstPort = 0, 2
	srcAddr, dstAddr = 12, 16
)

func rule(c *nftables.Conn, t *nftables.Table, ch *nftables.Chain, parts ...[]expr.Any) {
	var exprs []expr.Any
	for _, p := range parts {
		exprs = append(exprs, p...)
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs})
}

// notRST matches TCP segments without the RST flag: the resets that
// reject sends must pass the same rules, or neither end learns its
// connection is gone.
func notRST() []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x04}, Xor: []byte{0x00}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x00}},
	}
}

func drop() []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}} }

func resetTCP() []expr.Any { return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}} }

func dnat(ip net.IP, p uint16) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: ip.To4()},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
}

// partitionRules cuts a member off from every peer: all Raft traffic (to or
// from the peer port) in its namespace is dropped, both ways. Its client
// port stays reachable from the plugin, so the demo can show that requests
// through it fail.
func partitionRules(c *nftables.Conn, t *nftables.Table) {
	for _, h := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"input", nftables.ChainHookInput}, {"output", nftables.ChainHookOutput}} {
		ch := chain(c, t, h.name, nftables.ChainTypeFilter, h.hook, nftables.ChainPriorityFilter)
		rule(c, t, ch, isTCP(), port(dstPort, peerPort), drop())
		rule(c, t, ch, isTCP(), port(srcPort, peerPort), drop())
	}
}

// detour is one peer link sent through a latency proxy: connections to
// Target on the peer port are rewritten to Proxy.
type detour struct {
	Target net.IP
	Proxy  *net.TCPAddr
}

// detourRules rewrites new Raft connections from this namespace (to the
// detours' targets) to their proxies. If reset is set (the namespace of the
// member whose links are delayed), Raft traffic still flowing directly
// between it and the peers (connections made before the rules) is reset,
// so etcd reconnects, through the proxies. Rewritten connections leave with
// the proxy's address and are not reset.
func detourRules(detours []detour, peers []net.IP, reset bool) func(c *nftables.Conn, t *nftables.Table) {
	return func(c *nftables.Conn, t *nftables.Table) {
		nat := chain(c, t, "nat_output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest)
		for _, d := range detours {
			rule(c, t, nat, isTCP(), addr(dstAddr, d.Target), port(dstPort, peerPort), dnat(d.Proxy.IP, uint16(d.Proxy.Port)))
		}
		// Replies of rewritten connections are mapped back on the input hook.
		chain(c, t, "nat_input", nftables.ChainTypeNAT, nftables.ChainHookInput, nftables.ChainPriorityNATSource)
		if !reset {
			return
		}
		out := chain(c, t, "output", nftables.ChainTypeFilter, nftables.ChainHookOutput, nftables.ChainPriorityFilter)
		in := chain(c, t, "input", nftables.ChainTypeFilter, nftables.ChainHookInput, nftables.ChainPriorityFilter)
		for _, p := range peers {
			rule(c, t, out, isTCP(), addr(dstAddr, p), port(dstPort, peerPort), notRST(), resetTCP())
			rule(c, t, out, isTCP(), addr(dstAddr, p), port(srcPort, peerPort), notRST(), resetTCP())
			rule(c, t, in, isTCP(), addr(srcAddr, p), port(dstPort, peerPort), notRST(), resetTCP())
			rule(c, t, in, isTCP(), addr(srcAddr, p), port(srcPort, peerPort), notRST(), resetTCP())
		}
	}
}

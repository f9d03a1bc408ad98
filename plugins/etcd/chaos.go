package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/process"
)

// handle is a fault's handle, JSON. It names the plugin process that made
// the fault and every process (pid and start time) or namespace and
// nftables table it touched, so a fresh plugin process can revert it.
type handle struct {
	V      int               `json:"v"`
	Op     string            `json:"op"`
	Owner  string            `json:"owner"`            // plugin process identity
	Procs  map[string]string `json:"procs,omitempty"`  // member id -> identity
	Tables map[string]string `json:"tables,omitempty"` // namespace -> table
	Target string            `json:"target"`
}

func (h handle) String() string { b, _ := json.Marshal(h); return string(b) }

func parseHandle(s string) (handle, error) {
	var h handle
	if err := json.Unmarshal([]byte(s), &h); err != nil || h.V != 1 || h.Op == "" {
		return handle{}, fmt.Errorf("not a handle of the etcd subject: %q", s)
	}
	return h, nil
}

// live returns the cluster and monitor if the plugin is set up.
func (s *Subject) live() (*cluster, *monitor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cluster == nil || s.mon == nil {
		return nil, nil, errors.New("the cluster is not set up: run Setup first")
	}
	return s.cluster, s.mon, nil
}

// pick resolves a fault's target: "" or "leader" is the leader, "follower"
// a follower, otherwise a member id.
func pick(c *cluster, mon *monitor, target, dflt string) (*member, error) {
	if target == "" {
		target = dflt
	}
	h := mon.health()
	switch target {
	case "leader":
		if l := leaderOf(h); l != "" {
			return c.member(l)
		}
		return nil, errors.New("no leader right now to target: wait for one (no_leader) or name a member")
	case "follower":
		for _, n := range h.Nodes {
			if n.Role == "follower" && n.State == sdk.Up {
				return c.member(n.ID)
			}
		}
		return nil, errors.New("no follower that is up right now to target; name a member")
	}
	return c.member(target)
}

func (s *Subject) InjectChaos(ctx context.Context, req sdk.InjectRequest) (sdk.Injected, error) {
	c, mon, err := s.live()
	if err != nil {
		return sdk.Injected{}, err
	}
	f := req.Fault
	h := handle{V: 1, Owner: c.owner.String()}
	var detail string
	var target *member
	switch f.Kind {
	case LeaderKill, FollowerFreeze:
		dflt := "leader"
		if f.Kind == FollowerFreeze {
			dflt = "follower"
		}
		if target, err = pick(c, mon, f.Target, dflt); err != nil {
			return sdk.Injected{}, err
		}
		if !running(target) {
			return sdk.Injected{}, fmt.Errorf("%s is not running: revert the fault that stopped it first", target.id)
		}
		what, role := target.node.What(), roleOf(mon, target.id)
		h.Procs = map[string]string{target.id: target.node.Ref()}
		mon.markFault(f.Kind, target.id)
		if f.Kind == LeaderKill {
			h.Op = "kill"
			err = target.node.Kill(ctx)
			detail = fmt.Sprintf("SIGKILL %s (%s, %s)", target.id, role, what)
		} else {
			h.Op = "freeze"
			err = target.node.Pause(ctx)
			detail = fmt.Sprintf("%s %s (%s, %s)", c.freezeVerb(), target.id, role, what)
		}
	case QuorumLoss:
		victims, err := majority(c, mon)
		if err != nil {
			return sdk.Injected{}, err
		}
		h.Op, h.Procs = "kill", map[string]string{}
		var names []string
		for _, m := range victims {
			h.Procs[m.id] = m.node.Ref()
			names = append(names, fmt.Sprintf("%s (%s, %s)", m.id, roleOf(mon, m.id), m.node.What()))
		}
		mon.markFault(f.Kind, "")
		for _, m := range victims {
			err = errors.Join(err, m.node.Kill(ctx))
		}
		detail = fmt.Sprintf("SIGKILL %d of %d members: %s", len(victims), len(c.members), strings.Join(names, ", "))
		h.Target = ""
		if err != nil {
			return sdk.Injected{}, err
		}
		return sdk.Injected{Handle: h.String(), Target: strings.Join(sortedKeys(h.Procs), ","), Detail: detail}, nil
	case NetworkPartition, NetworkLatency:
		if !c.cfg.netFaults {
			return sdk.Injected{}, fmt.Errorf("%s needs network namespaces, and this run has none (%s): run demohost as root", f.Kind, c.cfg.noNetwork)
		}
		if target, err = pick(c, mon, f.Target, "leader"); err != nil {
			return sdk.Injected{}, err
		}
		if target.node.NetNS() == "" {
			return sdk.Injected{}, fmt.Errorf("%s: %s is not running, so it has no network to fault: revert the fault that stopped it first", f.Kind, target.id)
		}
		role := roleOf(mon, target.id)
		if f.Kind == NetworkPartition {
			h.Op = "partition"
			table := tableName(c.owner.Pid, "partition")
			ns := target.node.NetNS()
			h.Tables = map[string]string{ns: table}
			mon.markFault(f.Kind, target.id)
			err = applyTable(ns, table, partitionRules)
			detail = fmt.Sprintf("partitioned %s (%s) from its %d peers: nftables table %s drops port %d in %s", target.id, role, len(c.members)-1, table, peerPort, ns)
		} else {
			delay := f.Params.Duration(paramDelay)
			h.Op = "latency"
			d, tables, lerr := startLatency(c, target, delay)
			if lerr != nil {
				return sdk.Injected{}, lerr
			}
			h.Tables = tables
			h.Target = target.id
			s.mu.Lock()
			s.latency[h.String()] = d
			s.mu.Unlock()
			mon.markFault(f.Kind, target.id)
			err = d.apply()
			detail = fmt.Sprintf("%s (%s): Raft links through %d toxiproxy proxies on %s adding %s each way (nftables %s)",
				target.id, role, len(d.proxies), c.hostIP(), delay, tableName(c.owner.Pid, "latency"))
		}
	default:
		return sdk.Injected{}, fmt.Errorf("fault kind %s is not one of this subject's (see `demohost describe`)", f.Kind)
	}
	h.Target = target.id
	if err != nil {
		// Leave nothing half-done behind: the host does not revert a fault
		// whose injection failed.
		_, _ = s.RevertChaos(ctx, sdk.RevertRequest{Handle: h.String(), Fault: f, Target: target.id})
		return sdk.Injected{}, err
	}
	return sdk.Injected{Handle: h.String(), Target: target.id, Detail: detail}, nil
}

// majority picks the members QUORUM_LOSS kills: the leader first, then
// followers, until fewer than a quorum are left.
func majority(c *cluster, mon *monitor) ([]*member, error) {
	h := mon.health()
	var out []*member
	leader := leaderOf(h)
	if leader != "" {
		m, _ := c.member(leader)
		out = append(out, m)
	}
	for _, m := range c.members {
		if len(out) >= c.quorum() {
			break
		}
		if m.id != leader && running(m) {
			out = append(out, m)
		}
	}
	if len(out) < c.quorum() {
		return nil, fmt.Errorf("only %d members run: fewer than the %d a quorum loss kills", len(out), c.quorum())
	}
	return out, nil
}

func roleOf(mon *monitor, id string) string {
	for _, n := range mon.health().Nodes {
		if n.ID == id && n.Role != "" {
			return n.Role
		}
	}
	return "member"
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *Subject) RevertChaos(ctx context.Context, req sdk.RevertRequest) (sdk.Reverted, error) {
	h, err := parseHandle(req.Handle)
	if err != nil {
		return sdk.Reverted{}, err
	}
	s.mu.Lock()
	c, mon := s.cluster, s.mon
	s.mu.Unlock()
	mine := c != nil && h.Owner == c.owner.String()
	done := func() {
		if mine && mon != nil {
			mon.endFault(req.Fault.Kind, h.Target)
		}
	}
	switch h.Op {
	case "freeze":
		var lines []string
		for _, name := range sortedKeys(h.Procs) {
			ref := h.Procs[name]
			if mine {
				if m, err := c.member(name); err == nil && m.node.Ref() == ref {
					if err := m.node.Resume(ctx); err != nil {
						return sdk.Reverted{}, err
					}
					lines = append(lines, fmt.Sprintf("%s %s (%s)", c.thawVerb(), name, m.node.What()))
					continue
				}
			}
			line, err := thaw(ctx, h.Owner, name, ref)
			if err != nil {
				return sdk.Reverted{}, err
			}
			lines = append(lines, line)
		}
		done()
		return sdk.Reverted{Detail: strings.Join(lines, "; ")}, nil
	case "kill":
		if !mine {
			return sdk.Reverted{Detail: fmt.Sprintf("plugin process %s that ran this cluster is gone: nothing restarted (Teardown removes what it left)", h.Owner)}, nil
		}
		var lines []string
		var errs []error
		for _, name := range sortedKeys(h.Procs) {
			m, err := c.member(name)
			if err != nil {
				return sdk.Reverted{}, err
			}
			if running(m) {
				lines = append(lines, name+" already runs")
				continue
			}
			if err := c.startMember(m); err != nil {
				errs = append(errs, err)
				continue
			}
			lines = append(lines, fmt.Sprintf("restarted %s on its data directory (%s)", name, m.node.What()))
		}
		for _, name := range sortedKeys(h.Procs) {
			m, _ := c.member(name)
			if err := c.waitAnswers(ctx, m, 15*time.Second); err != nil {
				errs = append(errs, err)
			}
		}
		done()
		if err := errors.Join(errs...); err != nil {
			return sdk.Reverted{}, err
		}
		return sdk.Reverted{Detail: strings.Join(lines, "; ")}, nil
	case "partition", "latency":
		s.mu.Lock()
		d := s.latency[req.Handle]
		delete(s.latency, req.Handle)
		s.mu.Unlock()
		var deleted []string
		var errs []error
		for _, ns := range sortedKeys(h.Tables) {
			ok, err := deleteTable(ns, h.Tables[ns])
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				deleted = append(deleted, ns)
			}
		}
		if d != nil {
			d.close() // after the rules: no new connection goes to a closed proxy
		}
		done()
		if err := errors.Join(errs...); err != nil {
			return sdk.Reverted{}, err
		}
		if len(deleted) == 0 {
			return sdk.Reverted{Detail: fmt.Sprintf("%s of %s already gone (namespaces or rules removed)", h.Op, h.Target)}, nil
		}
		what := "healed the partition of " + h.Target
		if h.Op == "latency" {
			what = "removed the latency detour of " + h.Target
		}
		return sdk.Reverted{Detail: fmt.Sprintf("%s: deleted nftables table %s in %d namespace(s)", what, h.Tables[deleted[0]], len(deleted))}, nil
	}
	return sdk.Reverted{}, fmt.Errorf("unknown fault operation %q in handle", h.Op)
}

// thaw resumes a member frozen by another plugin process, by its ref: a
// process only if it is still that very process (pid and start time), a
// container only if it carries that process' labels.
func thaw(ctx context.Context, owner, name, ref string) (string, error) {
	if id, ok := strings.CutPrefix(ref, "container="); ok {
		return thawContainer(ctx, owner, name, id)
	}
	id, err := process.ParseIdentity(ref)
	if err != nil {
		return "", err
	}
	if err := id.Signal(syscall.SIGCONT); err != nil {
		if errors.Is(err, process.ErrGone) {
			return fmt.Sprintf("%s (pid %d) is gone: nothing frozen", name, id.Pid), nil
		}
		return "", err
	}
	return fmt.Sprintf("SIGCONT %s (pid %d)", name, id.Pid), nil
}

// hostPort joins an address for a proxy.
func hostPort(ip net.IP, port int) string { return net.JoinHostPort(ip.String(), fmt.Sprint(port)) }

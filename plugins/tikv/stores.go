package tikv

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/demohost/demohost/plugins/tikv/pd"
	"github.com/demohost/demohost/sdk/docker"
)

// storeRef is one store as PD lists it, with its container if one in scope
// matches its address.
type storeRef struct {
	info      pd.StoreInfo
	container docker.Container // zero when no container in scope matches
}

func (r storeRef) id() uint64 { return r.info.Store.ID }

// name is what the demo calls the store: its compose service, its
// container name, or "store-ID".
func (r storeRef) name() string {
	if svc := r.container.Service(); svc != "" {
		return svc
	}
	if r.container.Name != "" {
		return r.container.Name
	}
	return fmt.Sprintf("store-%d", r.id())
}

// probeAddr is where this machine reaches the store's status server (PD
// advertises in-network names this machine cannot resolve): the status
// port as published on the host, else the container's address on its
// private network, else PD's status_address as is. It is "" while the
// container has no address (not running).
func (r storeRef) probeAddr() string {
	status := r.info.Store.StatusAddress
	if status == "" {
		return ""
	}
	if r.container.ID == "" {
		return status
	}
	_, port, err := net.SplitHostPort(status)
	if err != nil {
		return ""
	}
	if published := r.container.HostPorts[port+"/tcp"]; published != "" {
		return published
	}
	if r.container.IP() == "" {
		return ""
	}
	return net.JoinHostPort(r.container.IP(), port)
}

// matchStores pairs PD's stores (Tombstones left out) with containers in
// scope: a container matches when its compose service or its name is the
// host of the store's address.
func matchStores(stores *pd.Stores, containers []docker.Container) []storeRef {
	var refs []storeRef
	for _, st := range stores.Stores {
		if st.Store.StateName == pd.StateTombstone {
			continue
		}
		ref := storeRef{info: st}
		host := hostOf(st.Store.Address)
		for _, c := range containers {
			if host != "" && (c.Service() == host || c.Name == host) {
				ref.container = c
				break
			}
		}
		refs = append(refs, ref)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].id() < refs[j].id() })
	return refs
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func storeAddrs(refs []storeRef) string {
	addrs := make([]string, len(refs))
	for i, r := range refs {
		addrs[i] = r.info.Store.Address
	}
	if len(addrs) == 0 {
		return "(none)"
	}
	return strings.Join(addrs, ", ")
}

// probeResult is the prober's latest word on one store.
type probeResult struct {
	up        bool
	reason    string // why it is down
	at        time.Time
	downSince time.Time
}

// probeLoop probes every store each interval until ctx ends.
func (s *Subject) probeLoop(ctx context.Context, interval time.Duration) {
	defer close(s.stopped)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.probeOnce(ctx)
		}
	}
}

// probeOnce refreshes the containers of the known stores from Docker, then
// probes each store's /status: a container that is not running is down at
// once, a running one must answer within the probe timeout. A store that
// turns up or down calls HealthChanged.
func (s *Subject) probeOnce(ctx context.Context) {
	s.mu.Lock()
	refs, tg, prober := append([]storeRef(nil), s.stores...), s.target, s.prober
	s.mu.Unlock()
	if tg == nil || prober == nil {
		return
	}
	containers, listErr := tg.List(ctx)
	byID := map[string]docker.Container{}
	for _, c := range containers {
		byID[c.ID] = c
	}
	results := make([]probeResult, len(refs))
	var wg sync.WaitGroup
	for i := range refs {
		if c, ok := byID[refs[i].container.ID]; ok {
			refs[i].container = c
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = probe(ctx, prober, refs[i], listErr)
		}(i)
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	now := s.now()
	s.mu.Lock()
	flipped := false
	for i, r := range refs {
		res := results[i]
		res.at = now
		prev, ok := s.probes[r.id()]
		if ok && !prev.up && !res.up {
			res.downSince = prev.downSince
		} else if !res.up {
			res.downSince = now
		}
		flipped = flipped || !ok || prev.up != res.up
		s.probes[r.id()] = res
	}
	changed := s.changed
	// Keep the fresh container state (a restarted container may have a new address).
	for i := range s.stores {
		for _, r := range refs {
			if r.id() == s.stores[i].id() {
				s.stores[i].container = r.container
			}
		}
	}
	s.mu.Unlock()
	if flipped { // store_down is raised or cleared: the host should know now
		changed()
	}
}

func probe(ctx context.Context, p interface {
	Status(context.Context, string) error
}, r storeRef, listErr error) probeResult {
	c := r.container
	if c.ID != "" && listErr == nil {
		switch {
		case c.Paused:
			return probeResult{reason: "container paused"}
		case !c.Running:
			return probeResult{reason: "container " + c.State}
		}
	}
	addr := r.probeAddr()
	if addr == "" {
		return probeResult{reason: "no status address"}
	}
	if err := p.Status(ctx, addr); err != nil {
		return probeResult{reason: shortErr(err)}
	}
	return probeResult{up: true}
}

// shortErr keeps the last part of a network error ("connection refused").
func shortErr(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		return msg[i+2:]
	}
	return msg
}

package tikv

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/demohost/demohost/plugins/tikv/pd"
	"github.com/demohost/demohost/plugins/tikv/storeprobe"
	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/docker"
)

// Invariants the subject reports.
const (
	StoreDown           = "store_down"           // PD state not Up, or the direct probe failing
	PDUnhealthy         = "pd_unhealthy"         // PD unreachable, a member unhealthy, or no leader
	RegionHealth        = "region_health"        // regions missing a peer or with a down peer
	LeadersConcentrated = "leaders_concentrated" // informational: leaders piled on few stores
)

// healthTimeout bounds the PD calls and scrapes of one snapshot.
const healthTimeout = 2 * time.Second

// pdView is one round of PD answers.
type pdView struct {
	stores                                       *pd.Stores
	health                                       []pd.Member
	members                                      *pd.Members
	missPeer, downPer                            *pd.Regions
	storesErr, healthErr, membersErr, regionsErr error
}

func (s *Subject) readPD(ctx context.Context, c *pd.Client) pdView {
	var v pdView
	var wg sync.WaitGroup
	var regionErrs [2]error
	run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	run(func() { v.stores, v.storesErr = c.Stores(ctx) })
	run(func() { v.health, v.healthErr = c.Health(ctx) })
	run(func() { v.members, v.membersErr = c.Members(ctx) })
	run(func() { v.missPeer, regionErrs[0] = c.MissPeerRegions(ctx) })
	run(func() { v.downPer, regionErrs[1] = c.DownPeerRegions(ctx) })
	wg.Wait()
	v.regionsErr = firstErr(regionErrs[:]...)
	return v
}

// Health combines PD's view, the prober's and each store's /metrics.
func (s *Subject) Health(ctx context.Context) (sdk.HealthSnapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	opts, _ := s.options()
	s.mu.Lock()
	pdc, tg, prober := s.pd, s.target, s.prober
	s.mu.Unlock()
	if pdc == nil {
		pdc = pd.NewClient(opts.String("pd"), healthTimeout)
	}
	if prober == nil {
		prober = storeprobe.New(opts.Duration("probe_interval"))
	}
	v := s.readPD(ctx, pdc)

	if v.storesErr == nil {
		var containers []docker.Container
		listed := tg == nil // without Docker, PD's view alone
		if tg != nil {
			var err error
			containers, err = tg.List(ctx)
			listed = err == nil
		}
		if listed {
			refs := matchStores(v.stores, containers)
			s.mu.Lock()
			s.stores = refs
			s.mu.Unlock()
		}
	}
	s.mu.Lock()
	refs := append([]storeRef(nil), s.stores...)
	probes := make(map[uint64]probeResult, len(s.probes))
	for k, p := range s.probes {
		probes[k] = p
	}
	s.mu.Unlock()
	if v.storesErr == nil { // PD's fresh counts and states
		fresh := map[uint64]pd.StoreInfo{}
		for _, st := range v.stores.Stores {
			fresh[st.Store.ID] = st
		}
		for i := range refs {
			if st, ok := fresh[refs[i].id()]; ok {
				refs[i].info = st
			}
		}
	}
	scrapes := scrapeAll(ctx, prober, refs, probes)
	now := s.now()
	snap := &sdk.HealthSnapshot{TakenAt: now}
	if v.storesErr != nil {
		snap.Error = "PD: " + oneLine(v.storesErr)
	}
	s.pdNodes(snap, v, opts.String("pd"), now)
	s.storeNodes(snap, refs, probes, scrapes, v.storesErr == nil, now)
	regionViolation(snap, v, s.since(RegionHealth, now, v.regionsErr == nil && (v.missPeer.Count+v.downPer.Count) > 0))
	return *snap, nil
}

// since returns when the condition key was first seen true (now if just
// now), and forgets it once false.
func (s *Subject) since(key string, now time.Time, active bool) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !active {
		delete(s.downSince, key)
		return time.Time{}
	}
	if t, ok := s.downSince[key]; ok {
		return t
	}
	s.downSince[key] = now
	return now
}

func (s *Subject) pdNodes(snap *sdk.HealthSnapshot, v pdView, addr string, now time.Time) {
	leader := ""
	if v.membersErr == nil && v.members.Leader != nil {
		leader = v.members.Leader.Name
	}
	var problems []string
	switch {
	case v.healthErr != nil:
		snap.Nodes = append(snap.Nodes, sdk.Node{ID: "pd", Name: "pd", Role: "pd", State: sdk.Down, Address: addr, Detail: "unreachable: " + oneLine(v.healthErr)})
		problems = append(problems, "PD at "+addr+" does not answer")
	default:
		for _, m := range v.health {
			state, role := sdk.Up, "pd"
			if m.Name == leader {
				role = "pd leader"
			}
			detail := "healthy"
			if !m.Health {
				state, detail = sdk.Down, "unhealthy"
				problems = append(problems, "PD member "+m.Name+" is unhealthy")
			}
			if v.membersErr == nil {
				for _, mm := range v.members.Members {
					if mm.Name == m.Name && mm.BinaryVersion != "" {
						detail += " · " + mm.BinaryVersion
					}
				}
			}
			snap.Nodes = append(snap.Nodes, sdk.Node{ID: "pd-" + m.Name, Name: m.Name, Role: role, State: state, Address: strings.Join(m.ClientURLs, ","), Detail: detail})
		}
		if v.membersErr == nil && leader == "" {
			problems = append(problems, "PD has no leader")
		}
	}
	if since := s.since(PDUnhealthy, now, len(problems) > 0); len(problems) > 0 {
		snap.Violations = append(snap.Violations, sdk.Violation{
			Invariant: PDUnhealthy, Severity: sdk.Critical, Target: "pd",
			Message: strings.Join(problems, "; "), Since: since,
		})
	}
}

// storeNodes adds a node per store, both views in its detail, the
// store_down violations and the per-store metrics.
func (s *Subject) storeNodes(snap *sdk.HealthSnapshot, refs []storeRef, probes map[uint64]probeResult, scrapes map[uint64]storeprobe.Metrics, pdFresh bool, now time.Time) {
	probeUp, pdUp := 0, 0
	var totalRate float64
	leaders := map[string]int{}
	for _, r := range refs {
		st := r.info.Store
		p, probed := probes[r.id()]
		name := r.name()
		pdSays := st.StateName
		if !pdFresh {
			pdSays = "unknown (PD unreachable)"
		}
		hb := "never"
		if t := st.Heartbeat(); !t.IsZero() {
			hb = fmt.Sprintf("%.1fs ago", now.Sub(t).Seconds())
		}
		probeSays := "not probed yet"
		if probed {
			if p.up {
				probeSays = "up"
			} else {
				probeSays = fmt.Sprintf("DOWN for %.1fs (%s)", now.Sub(p.downSince).Seconds(), p.reason)
			}
		}
		m, scraped := scrapes[r.id()]
		leaderCount, regionCount := float64(r.info.Status.LeaderCount), float64(r.info.Status.RegionCount)
		if scraped {
			leaderCount, regionCount = m.Leaders, m.Regions
		}
		rate := s.requestRate(r.id(), m, scraped, now)
		totalRate += rate
		leaders[name] = int(leaderCount)

		state := sdk.Up
		switch {
		case probed && !p.up:
			state = sdk.Down
		case pdFresh && (st.StateName == pd.StateDisconnected || st.StateName == pd.StateDown):
			state = sdk.Down
		case pdFresh && st.StateName != pd.StateUp:
			state = sdk.Degraded
		case !probed:
			state = sdk.Unknown
		}
		if probed && p.up {
			probeUp++
		}
		if pdFresh && st.Up() {
			pdUp++
		}
		snap.Nodes = append(snap.Nodes, sdk.Node{
			ID: fmt.Sprintf("store-%d", r.id()), Name: name, Role: "store", State: state, Address: st.Address,
			Detail: fmt.Sprintf("PD: %s (heartbeat %s) · probe /status: %s · %d leaders, %d regions · capacity %s, available %s",
				pdSays, hb, probeSays, int(leaderCount), int(regionCount), orDash(r.info.Status.Capacity), orDash(r.info.Status.Available)),
		})
		snap.Metrics = append(snap.Metrics,
			sdk.Metric{Name: "leaders_" + name, Value: leaderCount, Unit: "regions", Kind: sdk.MetricGauge},
			sdk.Metric{Name: "regions_" + name, Value: regionCount, Unit: "regions", Kind: sdk.MetricGauge},
			sdk.Metric{Name: "requests_" + name, Value: rate, Unit: "req/s", Kind: sdk.MetricRate},
		)

		down := (probed && !p.up) || (pdFresh && !st.Up())
		if since := s.since(StoreDown+"/"+name, now, down); down {
			if probed && !p.up && p.downSince.Before(since) {
				since = p.downSince
			}
			msg := fmt.Sprintf("%s (store %d): probe says %s; PD says %s, last heartbeat %s", name, r.id(), probeSays, pdSays, hb)
			if pdFresh && st.Up() {
				msg += " — PD only marks a store Disconnected after 20s without heartbeat"
			}
			snap.Violations = append(snap.Violations, sdk.Violation{
				Invariant: StoreDown, Severity: sdk.Critical, Target: name, Message: msg, Since: since,
			})
		}
	}
	snap.Metrics = append(snap.Metrics,
		sdk.Metric{Name: "stores_up_probe", Value: float64(probeUp), Unit: "stores", Kind: sdk.MetricGauge},
		sdk.Metric{Name: "stores_up_pd", Value: float64(pdUp), Unit: "stores", Kind: sdk.MetricGauge},
		sdk.Metric{Name: "store_requests", Value: totalRate, Unit: "req/s", Kind: sdk.MetricRate},
	)
	allUp := len(refs) > 1 && probeUp == len(refs) && (!pdFresh || pdUp == len(refs))
	if msg := concentration(leaders); allUp && msg != "" {
		snap.Violations = append(snap.Violations, sdk.Violation{
			Invariant: LeadersConcentrated, Severity: sdk.Info, Target: "stores", Message: msg,
			Since: s.since(LeadersConcentrated, now, true),
		})
	} else {
		s.since(LeadersConcentrated, now, false)
	}
}

// concentration describes leaders piled on few stores (the busiest leads
// more than twice the idlest, plus slack), or "" when balanced enough.
func concentration(leaders map[string]int) string {
	names := make([]string, 0, len(leaders))
	total := 0
	for n, c := range leaders {
		names = append(names, n)
		total += c
	}
	if len(names) < 2 || total == 0 {
		return ""
	}
	sort.Slice(names, func(i, j int) bool {
		if leaders[names[i]] != leaders[names[j]] {
			return leaders[names[i]] > leaders[names[j]]
		}
		return names[i] < names[j]
	})
	most, least := names[0], names[len(names)-1]
	if leaders[most] <= 2*leaders[least]+1 {
		return ""
	}
	return fmt.Sprintf("%s leads %d of %d regions while %s leads %d: leaders moved off the lost store and PD's balance-leader scheduler spreads them again over the next minutes",
		most, leaders[most], total, least, leaders[least])
}

func regionViolation(snap *sdk.HealthSnapshot, v pdView, since time.Time) {
	if v.regionsErr != nil {
		return
	}
	snap.Metrics = append(snap.Metrics,
		sdk.Metric{Name: "regions_miss_peer", Value: float64(v.missPeer.Count), Unit: "regions", Kind: sdk.MetricGauge},
		sdk.Metric{Name: "regions_down_peer", Value: float64(v.downPer.Count), Unit: "regions", Kind: sdk.MetricGauge},
	)
	if v.missPeer.Count+v.downPer.Count == 0 {
		return
	}
	snap.Violations = append(snap.Violations, sdk.Violation{
		Invariant: RegionHealth, Severity: sdk.Warning, Target: "regions",
		Message: fmt.Sprintf("%d regions miss a peer, %d have a down peer (PD /regions/check)", v.missPeer.Count, v.downPer.Count),
		Since:   since,
	})
}

// scrapeAll reads /metrics of every store the prober sees up.
func scrapeAll(ctx context.Context, p *storeprobe.Prober, refs []storeRef, probes map[uint64]probeResult) map[uint64]storeprobe.Metrics {
	out := map[uint64]storeprobe.Metrics{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, r := range refs {
		addr := r.probeAddr()
		if pr, ok := probes[r.id()]; addr == "" || !ok || !pr.up { // scrape only what the probe sees up
			continue
		}
		wg.Add(1)
		go func(id uint64, addr string) {
			defer wg.Done()
			if m, err := p.Scrape(ctx, addr); err == nil {
				mu.Lock()
				out[id] = m
				mu.Unlock()
			}
		}(r.id(), addr)
	}
	wg.Wait()
	return out
}

// rateSample remembers a store's request counter for its rate.
type rateSample struct {
	requests float64
	at       time.Time
	rate     float64
}

// requestRate is the store's requests per second since the previous
// scrape at least 500ms ago; a store that restarted starts over at 0.
func (s *Subject) requestRate(id uint64, m storeprobe.Metrics, scraped bool, now time.Time) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.rates[id]
	if !scraped {
		delete(s.rates, id)
		return 0
	}
	if !ok || m.Requests < prev.requests {
		s.rates[id] = rateSample{requests: m.Requests, at: now}
		return 0
	}
	if dt := now.Sub(prev.at).Seconds(); dt >= 0.5 {
		s.rates[id] = rateSample{requests: m.Requests, at: now, rate: (m.Requests - prev.requests) / dt}
	}
	return s.rates[id].rate
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

package node

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/warrenhq/warren/sandbox/netns"
)

// parseEgressAllow parses --egress-allow values.
func parseEgressAllow(vals []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range vals {
		p, err := netip.ParsePrefix(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("--egress-allow: %q is not a CIDR (e.g. 10.1.2.0/24): %w", v, err)
		}
		if !p.Addr().Is4() {
			return nil, fmt.Errorf("--egress-allow: %q: sandboxes speak IPv4 only, want an IPv4 CIDR", v)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// egressRefreshEvery is how often the platform set is rebuilt even without a
// membership event, re-resolving host names (the database host's included).
const egressRefreshEvery = 5 * time.Minute

// egressWatch keeps the sandbox network's platform set (netns.SetPlatformAddrs)
// current: this node's addresses, the database host(s) and the addresses of
// every cluster member, so internet-enabled sandboxes reach none of them.
type egressWatch struct {
	n   *Node
	net *netns.Manager
	mu  sync.Mutex // serialises refreshes
}

func newEgressWatch(n *Node, m *netns.Manager) *egressWatch { return &egressWatch{n: n, net: m} }

// refresh rebuilds the platform set. Hosts that do not resolve are logged
// and left out; an nftables failure is returned.
func (e *egressWatch) refresh(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	cfg := e.n.cfg
	hosts := []string{cfg.Cluster.Advertise}
	for _, hp := range []string{cfg.HTTPAddr, cfg.Cluster.GossipAddr, cfg.Cluster.RaftAddr, cfg.Cluster.GRPCAddr} {
		hosts = append(hosts, hostOf(hp))
	}
	hosts = append(hosts, databaseHosts(cfg.DatabaseURL)...)
	if e.n.cluster != nil {
		for _, m := range e.n.cluster.c.Members() {
			hosts = append(hosts, hostOf(m.GossipAddr), hostOf(m.Meta.RaftAddr), hostOf(m.Meta.GRPCAddr), hostOf(m.Meta.HTTPAddr))
		}
	}
	var addrs []netip.Addr
	seen := map[string]bool{}
	for _, h := range hosts {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if a, err := netip.ParseAddr(h); err == nil {
			if !a.IsUnspecified() {
				addrs = append(addrs, a)
			}
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip4", h)
		cancel()
		if err != nil {
			e.n.log.Warn("egress: cannot resolve a platform host; sandboxes are not kept from it by address", "host", h, "err", err)
			continue
		}
		addrs = append(addrs, ips...)
	}
	if err := e.net.SetPlatformAddrs(addrs); err != nil {
		return err
	}
	return nil
}

// watch refreshes the set on every membership event and every
// egressRefreshEvery, until the node closes.
func (e *egressWatch) watch(ctx context.Context) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	events, unsubscribe := e.n.cluster.c.Subscribe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(egressRefreshEvery)
		defer tick.Stop()
		for {
			if err := e.refresh(ctx); err != nil && ctx.Err() == nil {
				e.n.log.Error("egress: updating the platform addresses", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case _, ok := <-events:
				if !ok {
					return
				}
			case <-tick.C:
			}
		}
	}()
	e.n.closers = append(e.n.closers, func(context.Context) error {
		cancel()
		unsubscribe()
		<-done
		return nil
	})
}

// hostOf is the host of host:port, or "" when hp is not one.
func hostOf(hp string) string {
	h, _, err := net.SplitHostPort(hp)
	if err != nil {
		return ""
	}
	return h
}

// databaseHosts are the host names or addresses of a postgres:// URL (pgx
// accepts a comma-separated list); none for a socket path or an empty URL.
func databaseHosts(dsn string) []string {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return nil
	}
	var out []string
	for _, hp := range strings.Split(u.Host, ",") {
		h := hp
		if sh, _, err := net.SplitHostPort(hp); err == nil {
			h = sh
		}
		h = strings.Trim(h, "[]")
		if h != "" && !strings.HasPrefix(h, "/") {
			out = append(out, h)
		}
	}
	return out
}

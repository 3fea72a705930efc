package netns

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/nftables"
)

// Per-sandbox egress rules live in the node's inet table, in the host network
// namespace, not in the sandbox's: root inside the sandbox (in its own user
// and network namespaces) has no handle on them. They are keyed by the
// sandbox's address, which the bridge's "ports" set binds to its veth, so a
// sandbox cannot borrow another's rules by spoofing.
//
// For a sandbox with rules the map "egress" sends its forwarded packets
// (after the nameserver, platform and DenyDestinations checks) to its chain
// e_<veth>, which refuses what its deny sets hold, returns for what its
// allow sets hold, and refuses or returns for the rest by DefaultDeny. A
// return continues with EgressAllow and DefaultDenied, so a team's allow list
// never opens the platform, metadata or private ranges the operator did not.
// Each direction has two sets: <veth>_an/<veth>_dn of prefixes and
// <veth>_ah/<veth>_dh of resolved host addresses, whose elements expire.

// EgressRules are one sandbox's own outbound rules; deny wins over allow.
type EgressRules struct {
	// DefaultDeny refuses destinations in neither list.
	DefaultDeny bool
	// Allow and Deny are IPv4 prefixes.
	Allow, Deny []netip.Prefix
}

// HostAddr is a resolved address of an allowed or denied domain name; it
// leaves its set after TTL unless set again.
type HostAddr struct {
	Addr netip.Addr
	TTL  time.Duration
}

func (r *EgressRules) validate() error {
	for _, ps := range [][]netip.Prefix{r.Allow, r.Deny} {
		for _, p := range ps {
			if !p.IsValid() || !p.Addr().Is4() {
				return fmt.Errorf("egress rule %v: want an IPv4 prefix: %w", p, ErrInvalid)
			}
		}
	}
	return nil
}

func egressChain(veth string) string { return "e_" + veth }

// egressScript replaces the chain, the prefix sets and the map element of a
// sandbox in one nft transaction. The host sets keep their elements (they
// are refreshed by SetEgressHosts).
func (m *Manager) egressScript(s Sandbox, r *EgressRules) string {
	t, v, ch := m.tableName(), s.HostVeth, egressChain(s.HostVeth)
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n\tchain %s { }\n", t, ch)
	for _, d := range []string{"a", "d"} {
		fmt.Fprintf(&b, "\tset %s_%sn { type ipv4_addr; flags interval; }\n", v, d)
		fmt.Fprintf(&b, "\tset %s_%sh { type ipv4_addr; flags timeout; }\n", v, d)
	}
	b.WriteString("}\n")
	fmt.Fprintf(&b, "flush chain inet %s %s\nflush set inet %s %s_an\nflush set inet %s %s_dn\n", t, ch, t, v, t, v)
	if l := prefixList(r.Allow); l != "" {
		fmt.Fprintf(&b, "add element inet %s %s_an { %s }\n", t, v, l)
	}
	if l := prefixList(r.Deny); l != "" {
		fmt.Fprintf(&b, "add element inet %s %s_dn { %s }\n", t, v, l)
	}
	fmt.Fprintf(&b, "add rule inet %s %s ip daddr @%s_dn jump refuse\n", t, ch, v)
	fmt.Fprintf(&b, "add rule inet %s %s ip daddr @%s_dh jump refuse\n", t, ch, v)
	fmt.Fprintf(&b, "add rule inet %s %s ip daddr @%s_an return\n", t, ch, v)
	fmt.Fprintf(&b, "add rule inet %s %s ip daddr @%s_ah return\n", t, ch, v)
	if r.DefaultDeny {
		fmt.Fprintf(&b, "add rule inet %s %s jump refuse\n", t, ch)
	}
	fmt.Fprintf(&b, "add element inet %s egress { %s : jump %s }\n", t, s.IP, ch)
	return b.String()
}

// unEgressScript removes a sandbox's chain, sets and map element; absent ones
// are not an error (each is declared first).
func (m *Manager) unEgressScript(veth string, ip netip.Addr) string {
	t, ch := m.tableName(), egressChain(veth)
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n\tchain %s { }\n", t, ch)
	for _, d := range []string{"a", "d"} {
		fmt.Fprintf(&b, "\tset %s_%sn { type ipv4_addr; flags interval; }\n", veth, d)
		fmt.Fprintf(&b, "\tset %s_%sh { type ipv4_addr; flags timeout; }\n", veth, d)
	}
	b.WriteString("}\n")
	if ip.IsValid() {
		fmt.Fprintf(&b, "add element inet %s egress { %s : jump %s }\n", t, ip, ch)
		fmt.Fprintf(&b, "delete element inet %s egress { %s }\n", t, ip)
	}
	fmt.Fprintf(&b, "flush chain inet %s %s\ndelete chain inet %s %s\n", t, ch, t, ch)
	for _, s := range []string{"an", "ah", "dn", "dh"} {
		fmt.Fprintf(&b, "delete set inet %s %s_%s\n", t, veth, s)
	}
	return b.String()
}

// SetEgress replaces the egress rules of a running sandbox atomically; nil
// removes them (the sandbox falls back to the node-wide rules). Resolved host
// addresses stay until they expire or SetEgressHosts replaces them; nil
// removes them too.
func (m *Manager) SetEgress(ctx context.Context, id string, r *EgressRules) error {
	m.mu.Lock()
	s, ok := m.sandboxes[id]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("netns: set egress of %s: %w", id, ErrNotFound)
	}
	var err error
	if r == nil {
		err = runNft(ctx, m.unEgressScript(s.HostVeth, s.IP))
	} else if err = r.validate(); err == nil {
		err = runNft(ctx, m.egressScript(s, r))
	}
	if err != nil {
		return fmt.Errorf("netns: set egress of %s: %w", id, err)
	}
	m.mu.Lock()
	if cur, ok := m.sandboxes[id]; ok {
		cur.Egress = r
		m.sandboxes[id] = cur
	}
	m.mu.Unlock()
	return nil
}

func (m *Manager) hostSet(veth string, deny bool) *nftables.Set {
	d := "a"
	if deny {
		d = "d"
	}
	return &nftables.Set{
		Table:   &nftables.Table{Name: m.tableName(), Family: nftables.TableFamilyINet},
		Name:    veth + "_" + d + "h",
		KeyType: nftables.TypeIPAddr, HasTimeout: true,
	}
}

// SetEgressHosts replaces the resolved addresses of a sandbox's allowed (or,
// with deny, denied) domain names in one transaction, each expiring after its
// TTL (at least a second). The sandbox must have rules (SetEgress or
// Options.Egress).
func (m *Manager) SetEgressHosts(id string, deny bool, hosts []HostAddr) error {
	m.mu.Lock()
	s, ok := m.sandboxes[id]
	m.mu.Unlock()
	if !ok || s.Egress == nil {
		return fmt.Errorf("netns: set egress hosts of %s: no sandbox with egress rules: %w", id, ErrNotFound)
	}
	var elems []nftables.SetElement
	var seen []netip.Addr
	for _, h := range hosts {
		a := h.Addr.Unmap()
		if !a.Is4() || slices.Contains(seen, a) {
			continue
		}
		seen = append(seen, a)
		b := a.As4()
		elems = append(elems, nftables.SetElement{Key: b[:], Timeout: max(h.TTL, time.Second)})
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("netns: set egress hosts of %s: nftables connection: %w", id, err)
	}
	set := m.hostSet(s.HostVeth, deny)
	c.FlushSet(set)
	if len(elems) > 0 {
		if err := c.SetAddElements(set, elems); err != nil {
			return fmt.Errorf("netns: set egress hosts of %s: %w", id, err)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("netns: set egress hosts of %s %v: %w", id, seen, err)
	}
	return nil
}

// hasEgressChain reports whether the chain of veth exists (a recovered
// sandbox's rules are not remembered, only installed).
func (m *Manager) hasEgressChain(veth string) bool {
	c, err := nftables.New()
	if err != nil {
		return true // let the removal script decide
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return true
	}
	return slices.ContainsFunc(chains, func(ch *nftables.Chain) bool {
		return ch.Table.Name == m.tableName() && ch.Name == egressChain(veth)
	})
}

package netns

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
)

// DefaultDenied are the destinations internet-enabled sandboxes never reach
// unless Config.EgressAllow lists them: private (RFC 1918), loopback,
// link-local (cloud metadata at 169.254.169.254), shared CGNAT space,
// multicast, "this network", reserved and broadcast. Sandboxes speak no IPv6
// at all (the bridge drops every non-IPv4 frame from a sandbox port and IPv6
// is disabled on the bridge and the veths), so there is no IPv6 list.
var DefaultDenied = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"), // includes 255.255.255.255
}

func (m *Manager) platformSet() *nftables.Set {
	return &nftables.Set{
		Table:   &nftables.Table{Name: m.tableName(), Family: nftables.TableFamilyINet},
		Name:    "platform",
		KeyType: nftables.TypeIPAddr,
	}
}

// SetPlatformAddrs replaces the "platform" set: addresses of the cluster's
// own machines (every node's advertise address, the database host) that
// internet-enabled sandboxes must not reach even when they are public or
// inside an EgressAllow range. The set is replaced in one nftables
// transaction: no packet sees it half-updated. IPv6 addresses are skipped
// (sandboxes cannot send IPv6); IPv4-mapped ones count as IPv4.
func (m *Manager) SetPlatformAddrs(addrs []netip.Addr) error {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return fmt.Errorf("netns: set platform addresses: manager %s is closed: %w", m.cfg.Prefix, ErrUnavailable)
	}
	var v4 []netip.Addr
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() && !slices.Contains(v4, a) {
			v4 = append(v4, a)
		}
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("netns: set platform addresses: nftables connection: %w", err)
	}
	set := m.platformSet()
	c.FlushSet(set)
	if len(v4) > 0 {
		elems := make([]nftables.SetElement, len(v4))
		for i, a := range v4 {
			b := a.As4()
			elems[i] = nftables.SetElement{Key: b[:]}
		}
		if err := c.SetAddElements(set, elems); err != nil {
			return fmt.Errorf("netns: set platform addresses: %w", err)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("netns: set platform addresses %v: %w", v4, err)
	}
	m.log.Debug("platform addresses set", "addrs", v4)
	return nil
}

// PlatformAddrs lists the platform set as installed.
func (m *Manager) PlatformAddrs() ([]netip.Addr, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("netns: list platform addresses: nftables connection: %w", err)
	}
	es, err := c.GetSetElements(m.platformSet())
	if err != nil {
		return nil, fmt.Errorf("netns: list platform addresses: %w", err)
	}
	var out []netip.Addr
	for _, e := range es {
		if a, ok := netip.AddrFromSlice(e.Key); ok {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out, nil
}

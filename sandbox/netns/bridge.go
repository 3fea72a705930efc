package netns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
)

// gateway is the first address of the subnet, held by the bridge.
func (m *Manager) gateway() netip.Addr { return m.cfg.Subnet.Addr().Next() }

func ipNet(a netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, 32)}
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

// checkSubnetFree fails if an address on another interface overlaps the subnet:
// the sandboxes' route would shadow it or be shadowed.
func (m *Manager) checkSubnetFree() error {
	addrs, err := dump(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return fmt.Errorf("netns: list addresses: %w", err)
	}
	br, _ := netlink.LinkByName(m.cfg.Bridge)
	for _, a := range addrs {
		if br != nil && a.LinkIndex == br.Attrs().Index {
			continue
		}
		ip, _ := netip.AddrFromSlice(a.IP.To4())
		ones, _ := a.Mask.Size()
		if p := netip.PrefixFrom(ip, ones).Masked(); p.Overlaps(m.cfg.Subnet) {
			return fmt.Errorf("netns: subnet %v overlaps %v on interface index %d: %w", m.cfg.Subnet, p, a.LinkIndex, ErrExists)
		}
	}
	return nil
}

// ensureBridge creates the bridge if needed, gives it the gateway address and
// brings it up; created tells whether it made the bridge. IPv6 is disabled on
// it: sandboxes only speak IPv4.
func (m *Manager) ensureBridge() (l netlink.Link, created bool, err error) {
	defer func() {
		if err != nil && created {
			m.deleteBridge()
		}
	}()
	name := m.cfg.Bridge
	l, err = netlink.LinkByName(name)
	switch {
	case isNotFound(err):
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: m.cfg.MTU}}
		if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, false, fmt.Errorf("netns: create bridge %s: %w", name, err)
		}
		created = true
		if l, err = netlink.LinkByName(name); err != nil {
			return nil, created, fmt.Errorf("netns: find bridge %s: %w", name, err)
		}
		m.log.Info("created bridge", "bridge", name)
	case err != nil:
		return nil, created, fmt.Errorf("netns: find bridge %s: %w", name, err)
	case l.Type() != "bridge":
		return nil, created, fmt.Errorf("netns: interface %s exists and is a %s, not a bridge: %w", name, l.Type(), ErrExists)
	}
	if err := disableIPv6(name); err != nil {
		return nil, created, fmt.Errorf("netns: bridge %s: %w", name, err)
	}
	addr := &netlink.Addr{IPNet: ipNet(m.gateway(), m.cfg.Subnet.Bits())}
	if err := netlink.AddrReplace(l, addr); err != nil {
		return nil, created, fmt.Errorf("netns: set address %v on bridge %s: %w", addr.IPNet, name, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return nil, created, fmt.Errorf("netns: bring bridge %s up: %w", name, err)
	}
	return l, created, nil
}

func (m *Manager) deleteBridge() error {
	l, err := netlink.LinkByName(m.cfg.Bridge)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("netns: find bridge %s: %w", m.cfg.Bridge, err)
	}
	if l.Type() != "bridge" {
		return nil
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("netns: delete bridge %s: %w", m.cfg.Bridge, err)
	}
	return nil
}

func writeSysctl(path, value string) error {
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("netns: sysctl %s=%s: %w", path, value, err)
	}
	return nil
}

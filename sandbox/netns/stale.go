package netns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
)

// CleanupStale removes the networks of this prefix whose sandbox keep rejects
// (netns files, veths and firewall elements a crash left behind) and recovers
// the kept ones from the host: Lookup then returns them and the allocator never
// hands out their addresses. A kept sandbox whose network is incomplete (no
// veth, no address in the subnet) cannot be used and is removed too, with a
// warning. Call it after New and before the first Create; it waits for Create
// and Destroy calls in flight.
func (m *Manager) CleanupStale(ctx context.Context, keep func(id string) bool) error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("netns: cleanup %s: %w", m.cfg.Prefix, err)
	}
	entries, err := os.ReadDir(m.cfg.NetNSDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("netns: cleanup: list %s: %w", m.cfg.NetNSDir, err)
	}
	ports, internet, err := m.listElems()
	if err != nil {
		return fmt.Errorf("netns: cleanup %s: %w", m.cfg.Prefix, err)
	}
	var errs []error
	kept := map[string]Sandbox{}
	for _, e := range entries {
		id, ok := m.idFromNSName(e.Name())
		if !ok {
			continue
		}
		if keep(id) {
			s, err := m.recoverSandbox(id)
			if err == nil {
				kept[id] = s
				continue
			}
			m.log.Warn("kept sandbox network is unusable; removing it", "sandbox", id, "err", err)
		} else {
			m.log.Info("removing stale sandbox network", "sandbox", id)
		}
		errs = append(errs, m.remove(Sandbox{ID: id, NetNSPath: m.nsPath(id), HostVeth: m.vethName(id)}))
	}
	keptVeth := map[string]Sandbox{}
	for _, s := range kept {
		keptVeth[s.HostVeth] = s
	}
	errs = append(errs, m.removeStaleLinks(keptVeth))
	var stale []setElems
	for veth, ip := range ports {
		if s, ok := keptVeth[veth]; !ok || s.IP != ip {
			stale = append(stale, m.elems(veth, ip, false)...)
		}
	}
	keptIP := map[netip.Addr]Sandbox{}
	var fw []setElems
	for _, s := range kept {
		keptIP[s.IP] = s
		fw = append(fw, m.elems(s.HostVeth, s.IP, s.AllowInternet)...)
	}
	for ip := range internet {
		if s, ok := keptIP[ip]; !ok || !s.AllowInternet {
			stale = append(stale, m.internetElems(ip))
		}
	}
	errs = append(errs, delElems(stale))
	if len(fw) > 0 { // re-add: the tables may have been recreated since
		errs = append(errs, addElems(fw))
	}

	alloc := newAllocator(m.cfg.Subnet)
	for _, s := range kept {
		errs = append(errs, alloc.reserve(s.IP, s.ID))
	}
	m.mu.Lock()
	m.alloc = alloc
	m.sandboxes = kept
	m.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("netns: cleanup %s: %w", m.cfg.Prefix, err)
	}
	return nil
}

// removeStaleLinks deletes veths of this prefix that no kept sandbox uses.
func (m *Manager) removeStaleLinks(kept map[string]Sandbox) error {
	links, err := dump(netlink.LinkList)
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	var errs []error
	for _, l := range links {
		name := l.Attrs().Name
		if _, ok := kept[name]; ok || l.Type() != "veth" || !m.isOurVeth(name) {
			continue
		}
		m.log.Info("removing stale veth", "veth", name)
		errs = append(errs, deleteLink(name))
	}
	return errors.Join(errs...)
}

// recoverSandbox rebuilds a Sandbox from the host: the veth (its alias names the
// sandbox and its AllowInternet option) and eth0's address inside the netns.
func (m *Manager) recoverSandbox(id string) (Sandbox, error) {
	s := Sandbox{ID: id, NetNSPath: m.nsPath(id), HostVeth: m.vethName(id), Gateway: m.gateway(), PrefixLen: m.cfg.Subnet.Bits()}
	l, err := hostLink(s.HostVeth)
	if err != nil {
		return s, err
	}
	if l == nil {
		return s, fmt.Errorf("veth %s: %w", s.HostVeth, ErrNotFound)
	}
	alias := l.Attrs().Alias
	if alias != aliasFor(id, false) && alias != aliasFor(id, true) {
		return s, fmt.Errorf("veth %s has alias %q, not of sandbox %s: %w", s.HostVeth, alias, id, ErrInvalid)
	}
	s.AllowInternet = strings.HasSuffix(alias, " internet")
	ns, err := vnetns.GetFromPath(s.NetNSPath)
	if err != nil {
		return s, fmt.Errorf("open %s: %w", s.NetNSPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return s, fmt.Errorf("netlink in %s: %w", s.NetNSPath, err)
	}
	defer h.Close()
	eth, err := h.LinkByName("eth0")
	if err != nil {
		return s, fmt.Errorf("eth0 in %s: %w", s.NetNSPath, err)
	}
	addrs, err := dump(func() ([]netlink.Addr, error) { return h.AddrList(eth, netlink.FAMILY_V4) })
	if err != nil {
		return s, fmt.Errorf("addresses of eth0 in %s: %w", s.NetNSPath, err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok && m.cfg.Subnet.Contains(ip) {
			s.IP = ip
			return s, nil
		}
	}
	return s, fmt.Errorf("eth0 in %s has no address in %v: %w", s.NetNSPath, m.cfg.Subnet, ErrNotFound)
}

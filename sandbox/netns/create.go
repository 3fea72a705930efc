package netns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
)

// aliasFor is the host veth's ifalias: it names the sandbox and its
// AllowInternet option so a restarted node can recover both from the host.
func aliasFor(id string, internet bool) string {
	if internet {
		return "warren " + id + " internet"
	}
	return "warren " + id
}

// Create makes the network of sandbox id: a netns, a veth pair whose host end is
// an isolated bridge port, an address with a default route via the gateway, and
// the sandbox's firewall elements. On failure everything made so far is removed.
func (m *Manager) Create(ctx context.Context, id string, opts Options) (sb *Sandbox, err error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	if opts.Egress != nil {
		if err := opts.Egress.validate(); err != nil {
			return nil, fmt.Errorf("netns: create %s: %w", id, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("netns: create %s: %w", id, err)
	}
	m.opMu.RLock()
	defer m.opMu.RUnlock()
	if err := m.begin("create", id); err != nil {
		return nil, err
	}
	defer m.end(id)
	m.mu.Lock()
	_, exists := m.sandboxes[id]
	m.mu.Unlock()
	if exists {
		return nil, fmt.Errorf("netns: create %s: %w", id, ErrExists)
	}

	var undo []func() error
	defer func() {
		if err == nil {
			return
		}
		for i := len(undo) - 1; i >= 0; i-- {
			if uerr := undo[i](); uerr != nil {
				m.log.Error("rollback of failed create", "sandbox", id, "err", uerr)
			}
		}
	}()

	ip, err := m.alloc.allocate(id)
	if err != nil {
		return nil, err
	}
	undo = append(undo, func() error { m.alloc.release(ip, id); return nil })

	s := Sandbox{
		ID: id, NetNSPath: m.nsPath(id), IP: ip, Gateway: m.gateway(),
		PrefixLen: m.cfg.Subnet.Bits(), HostVeth: m.vethName(id), AllowInternet: opts.AllowInternet,
	}
	if err := createNetNS(s.NetNSPath); err != nil {
		return nil, fmt.Errorf("netns: create %s: %w", id, err)
	}
	undo = append(undo, func() error { return removeNetNS(s.NetNSPath) })

	ns, err := vnetns.GetFromPath(s.NetNSPath)
	if err != nil {
		return nil, fmt.Errorf("netns: create %s: open %s: %w", id, s.NetNSPath, err)
	}
	defer ns.Close()

	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{
			Name: s.HostVeth, MTU: m.cfg.MTU, MasterIndex: m.brIdx, TxQLen: -1,
		},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(int(ns)),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		if errors.Is(err, os.ErrExist) {
			err = fmt.Errorf("%w (%w)", err, ErrExists)
		}
		return nil, fmt.Errorf("netns: create %s: add veth %s: %w", id, s.HostVeth, err)
	}
	undo = append(undo, func() error { return deleteLink(s.HostVeth) })
	// The kernel ignores IFLA_IFALIAS when creating a link: set it after.
	if err := netlink.LinkSetAlias(veth, aliasFor(id, opts.AllowInternet)); err != nil {
		return nil, fmt.Errorf("netns: create %s: set alias of %s: %w", id, s.HostVeth, err)
	}
	if err := disableIPv6(s.HostVeth); err != nil {
		return nil, fmt.Errorf("netns: create %s: %w", id, err)
	}
	if err := netlink.LinkSetIsolated(veth, true); err != nil {
		return nil, fmt.Errorf("netns: create %s: isolate bridge port %s: %w", id, s.HostVeth, err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		return nil, fmt.Errorf("netns: create %s: bring %s up: %w", id, s.HostVeth, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netns: create %s: netlink in %s: %w", id, s.NetNSPath, err)
	}
	defer h.Close()
	if err := configureInside(h, s); err != nil {
		return nil, fmt.Errorf("netns: create %s: %w", id, err)
	}
	if err := waitLinksUp(ctx, veth, h); err != nil {
		return nil, fmt.Errorf("netns: create %s: %w", id, err)
	}
	fw := m.elems(s.HostVeth, ip, opts.AllowInternet)
	if err := addElems(fw); err != nil {
		return nil, fmt.Errorf("netns: create %s: firewall: %w", id, err)
	}
	undo = append(undo, func() error { return delElems(fw) })
	if opts.Egress != nil {
		s.Egress = opts.Egress
		undo = append(undo, func() error { return runNft(context.Background(), m.unEgressScript(s.HostVeth, ip)) })
		if err := runNft(ctx, m.egressScript(s, opts.Egress)); err != nil {
			return nil, fmt.Errorf("netns: create %s: egress rules: %w", id, err)
		}
	}

	m.mu.Lock()
	m.sandboxes[id] = s
	m.mu.Unlock()
	m.log.Debug("created sandbox network", "sandbox", id, "ip", ip, "veth", s.HostVeth, "internet", opts.AllowInternet)
	return &s, nil
}

// configureInside brings lo and eth0 up, addresses eth0 and adds the default
// route, through h, a netlink socket opened inside the netns.
func configureInside(h *netlink.Handle, s Sandbox) error {
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	eth, err := h.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("find eth0: %w", err)
	}
	if err := h.AddrAdd(eth, &netlink.Addr{IPNet: ipNet(s.IP, s.PrefixLen)}); err != nil {
		return fmt.Errorf("address eth0 %v/%d: %w", s.IP, s.PrefixLen, err)
	}
	if err := h.LinkSetUp(eth); err != nil {
		return fmt.Errorf("bring eth0 up: %w", err)
	}
	route := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: s.Gateway.AsSlice()}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("default route via %v: %w", s.Gateway, err)
	}
	return nil
}

// linkReadyTimeout bounds how long Create waits for the kernel to activate a
// new veth pair.
const linkReadyTimeout = 5 * time.Second

// waitLinksUp waits until the host end of veth and eth0 inside the netns (seen
// through in) are operationally up. The kernel activates a link's transmit
// queue asynchronously (its linkwatch work) after the carrier comes on, and
// until then drops every packet sent on it: a sandbox's first SYN or DNS query
// would be lost and resent only a second (TCP) or five (the resolver) later.
// The operational state is set by that same work.
func waitLinksUp(ctx context.Context, veth netlink.Link, in *netlink.Handle) error {
	ctx, cancel := context.WithTimeout(ctx, linkReadyTimeout)
	defer cancel()
	lookups := []struct {
		name string
		get  func() (netlink.Link, error)
	}{
		{veth.Attrs().Name, func() (netlink.Link, error) { return netlink.LinkByIndex(veth.Attrs().Index) }},
		{"eth0 in the netns", func() (netlink.Link, error) { return in.LinkByName("eth0") }},
	}
	for _, l := range lookups {
		for delay := 200 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
			link, err := l.get()
			if err != nil {
				return fmt.Errorf("read state of %s: %w", l.name, err)
			}
			if link.Attrs().OperState == netlink.OperUp {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s is not up (state %s): %w", l.name, link.Attrs().OperState, ctx.Err())
			case <-time.After(delay):
			}
		}
	}
	return nil
}

// Destroy removes the network of sandbox id: firewall elements, veth, netns
// file, address. For an id this Manager does not know it still removes any
// state the id's names point to, then fails with ErrNotFound.
func (m *Manager) Destroy(ctx context.Context, id string) error {
	if err := validateID(id); err != nil {
		return err
	}
	m.opMu.RLock()
	defer m.opMu.RUnlock()
	if err := m.begin("destroy", id); err != nil {
		return err
	}
	defer m.end(id)
	m.mu.Lock()
	s, known := m.sandboxes[id]
	m.mu.Unlock()
	if !known {
		s = Sandbox{ID: id, NetNSPath: m.nsPath(id), HostVeth: m.vethName(id)}
	}
	if err := m.remove(s); err != nil {
		return fmt.Errorf("netns: destroy %s: %w", id, err)
	}
	if !known {
		return fmt.Errorf("netns: destroy %s: %w", id, ErrNotFound)
	}
	m.mu.Lock()
	delete(m.sandboxes, id)
	m.mu.Unlock()
	m.alloc.release(s.IP, id)
	m.log.Debug("destroyed sandbox network", "sandbox", id)
	return nil
}

// remove deletes what exists of a sandbox's host state. Without s.IP it finds
// the firewall elements by veth name.
func (m *Manager) remove(s Sandbox) error {
	var fw []setElems
	if s.IP.IsValid() {
		fw = m.elems(s.HostVeth, s.IP, true)
	} else if ports, _, err := m.listElems(); err == nil {
		if ip, ok := ports[s.HostVeth]; ok {
			fw = m.elems(s.HostVeth, ip, true)
		}
	}
	// The nftables commit and the veth unregistration each wait for RCU grace
	// periods under different locks: run them side by side.
	ip := s.IP
	if len(fw) > 0 {
		_, ip, _ = parsePortKey(fw[0].elems[0].Key)
	}
	egress := s.Egress != nil || m.hasEgressChain(s.HostVeth)
	fwErr := make(chan error, 1)
	go func() {
		var err error
		if egress { // before the element that names the address goes
			err = runNft(context.Background(), m.unEgressScript(s.HostVeth, ip))
		}
		fwErr <- errors.Join(err, delElems(fw))
	}()
	linkErr := deleteLink(s.HostVeth)
	return errors.Join(<-fwErr, linkErr, removeNetNS(s.NetNSPath))
}

// deleteLink deletes a link by name; absent is not an error.
func deleteLink(name string) error {
	l, err := hostLink(name)
	if err != nil || l == nil {
		return err
	}
	if err := netlink.LinkDel(l); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

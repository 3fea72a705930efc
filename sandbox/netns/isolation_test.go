package netns

import (
	"context"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
)

// TestIsolation: a sandbox reaches neither the node (gateway, any host address)
// nor another sandbox, while the host reaches every sandbox's listeners.
func TestIsolation(t *testing.T) {
	cfg, _ := testConfig(t)
	m := newTestManager(t, cfg)
	a := mustCreate(t, m, "sb-a", false)
	b := mustCreate(t, m, "sb-b", true)
	gw := m.gateway()
	if a.IP == b.IP || a.Gateway != gw || !cfg.Subnet.Contains(a.IP) {
		t.Fatalf("addresses: a=%v b=%v gateway=%v", a.IP, b.IP, a.Gateway)
	}

	// A "node address" on another interface, as a node's LAN address would be.
	// (This kernel has no dummy driver: a veth pair kept on the host.)
	name := "wtd" + randHex(6)
	nodeLink := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"}
	if err := netlink.LinkAdd(nodeLink); err != nil {
		t.Fatalf("add veth %s: %v", name, err)
	}
	t.Cleanup(func() { netlink.LinkDel(nodeLink) })
	nodeIP := netip.MustParseAddr("10.213.250.1")
	if err := netlink.AddrAdd(nodeLink, &netlink.Addr{IPNet: ipNet(nodeIP, 32)}); err != nil {
		t.Fatalf("address %s: %v", name, err)
	}
	netlink.LinkSetUp(nodeLink)

	hello := func(net.Conn) string { return "hello" }
	hostLo := serve(t, "", "127.0.0.1:0", hello)
	hostGW := serve(t, "", gw.String()+":0", hello)
	hostAny := serve(t, "", "0.0.0.0:0", hello)
	hostNode := serve(t, "", nodeIP.String()+":0", hello)
	inA := serve(t, a.NetNSPath, "0.0.0.0:0", func(c net.Conn) string { return "A saw " + remoteIP(c) })
	inB := serve(t, b.NetNSPath, b.IP.String()+":0", func(c net.Conn) string { return "B saw " + remoteIP(c) })

	// The listeners work from the host itself.
	for _, ap := range []netip.AddrPort{hostLo, hostGW, hostNode, netip.AddrPortFrom(gw, hostAny.Port())} {
		if got, err := dialRead("", netip.Addr{}, ap); err != nil || got != "hello" {
			t.Fatalf("host to its own %v: %q, %v", ap, got, err)
		}
	}
	// Host to sandbox works, replies included.
	if got, err := dialRead("", netip.Addr{}, netip.AddrPortFrom(a.IP, inA.Port())); err != nil || got != "A saw "+gw.String() {
		t.Errorf("host to A: %q, %v", got, err)
	}
	if got, err := dialRead("", netip.Addr{}, inB); err != nil || got != "B saw "+gw.String() {
		t.Errorf("host to B: %q, %v", got, err)
	}

	// Sandbox to node: refused on every host address and port.
	for name, ap := range map[string]netip.AddrPort{
		"gateway listener":              hostGW,
		"wildcard listener via gateway": netip.AddrPortFrom(gw, hostAny.Port()),
		"wildcard listener via node IP": netip.AddrPortFrom(nodeIP, hostAny.Port()),
		"node IP listener":              hostNode,
		"loopback listener via gateway": netip.AddrPortFrom(gw, hostLo.Port()),
	} {
		for _, sb := range []*Sandbox{a, b} {
			if got, err := dialRead(sb.NetNSPath, netip.Addr{}, ap); err == nil {
				t.Errorf("%s reached the node's %s %v: %q", sb.ID, name, ap, got)
			}
		}
	}
	// 127.0.0.1 inside a sandbox is the sandbox's own loopback.
	if got, err := dialRead(a.NetNSPath, netip.Addr{}, hostLo); err == nil {
		t.Errorf("A reached the host's 127.0.0.1 listener %v: %q", hostLo, got)
	}
	for _, sb := range []*Sandbox{a, b} {
		if ok, err := ping(sb.NetNSPath, gw); err != nil || ok {
			t.Errorf("%s ping gateway: reply=%v err=%v", sb.ID, ok, err)
		}
	}

	// Sandbox to sandbox: neither bridged nor routed through the gateway.
	if got, err := dialRead(a.NetNSPath, netip.Addr{}, inB); err == nil {
		t.Errorf("A reached B's listener %v: %q", inB, got)
	}
	if ok, err := ping(a.NetNSPath, b.IP); err != nil || ok {
		t.Errorf("A ping B: reply=%v err=%v", ok, err)
	}
	if ok, err := ping(b.NetNSPath, a.IP); err != nil || ok {
		t.Errorf("B ping A: reply=%v err=%v", ok, err)
	}
	// Routed through the gateway both ways (the sandboxes have CAP_NET_ADMIN
	// here; real ones may not), redirects ignored: only the forward chain stops it.
	for _, p := range [][2]*Sandbox{{a, b}, {b, a}} {
		h := nsHandle(t, p[0].NetNSPath)
		eth, err := h.LinkByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		viaGW := &netlink.Route{LinkIndex: eth.Attrs().Index, Dst: ipNet(p[1].IP, 32), Gw: gw.AsSlice()}
		if err := h.RouteAdd(viaGW); err != nil {
			t.Fatalf("route to %s via gateway in %s: %v", p[1].ID, p[0].ID, err)
		}
		if err := inNS(p[0].NetNSPath, func() error {
			return os.WriteFile("/proc/sys/net/ipv4/conf/eth0/accept_redirects", []byte("0"), 0o644)
		}); err != nil {
			t.Fatalf("accept_redirects in %s: %v", p[0].ID, err)
		}
	}
	if got, err := dialRead(a.NetNSPath, netip.Addr{}, inB); err == nil {
		t.Errorf("A reached B through the gateway: %q", got)
	}
	if ok, err := ping(a.NetNSPath, b.IP); err != nil || ok {
		t.Errorf("A ping B through the gateway: reply=%v err=%v", ok, err)
	}
	// The host still reaches B after all that.
	if got, err := dialRead("", netip.Addr{}, inB); err != nil || got != "B saw "+gw.String() {
		t.Errorf("host to B at the end: %q, %v", got, err)
	}
}

// TestHostPorts: ports listed in Config.HostPorts are reachable on the gateway,
// others are not; re-running New with a new config replaces the rules while
// the sandboxes' firewall elements survive.
func TestHostPorts(t *testing.T) {
	cfg, _ := testConfig(t)
	m := newTestManager(t, cfg)
	a := mustCreate(t, m, "sb-a", false)
	open := serve(t, "", m.gateway().String()+":0", func(net.Conn) string { return "dns" })
	closed := serve(t, "", m.gateway().String()+":0", func(net.Conn) string { return "secret" })
	if got, err := dialRead(a.NetNSPath, netip.Addr{}, open); err == nil {
		t.Fatalf("before HostPorts: reached %v: %q", open, got)
	}
	cfg.HostPorts = []uint16{open.Port()}
	m2, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New again with HostPorts: %v", err)
	}
	defer m2.Close(context.Background())
	if got, err := dialRead(a.NetNSPath, netip.Addr{}, open); err != nil || got != "dns" {
		t.Errorf("allowed host port %v: %q, %v", open, got, err)
	}
	if got, err := dialRead(a.NetNSPath, netip.Addr{}, closed); err == nil {
		t.Errorf("other host port %v reached: %q", closed, got)
	}
	ports, _, err := m.listElems()
	if err != nil || ports[a.HostVeth] != a.IP {
		t.Errorf("ports set after re-install: %v, %v", ports, err)
	}
}

package netns

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
)

// upstream makes a netns playing an Internet host, on a veth whose host end has
// the first address of link and the netns the second. It fails the test unless
// the host routes that address into the veth, so no test packet can leave the
// machine.
func upstream(t *testing.T, link netip.Prefix) (nsPath string, ip netip.Addr) {
	t.Helper()
	h := randHex(6)
	nsPath = filepath.Join(DefaultConfig().NetNSDir, "wtup"+h)
	if err := createNetNS(nsPath); err != nil {
		t.Fatalf("upstream netns: %v", err)
	}
	t.Cleanup(func() { removeNetNS(nsPath) })
	ns, err := vnetns.GetFromPath(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "wtu" + h}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("upstream veth: %v", err)
	}
	t.Cleanup(func() { netlink.LinkDel(veth) })
	hostIP, ip := link.Addr().Next(), link.Addr().Next().Next()
	if err := netlink.AddrAdd(veth, &netlink.Addr{IPNet: ipNet(hostIP, link.Bits())}); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		t.Fatal(err)
	}
	in := nsHandle(t, nsPath)
	for _, name := range []string{"lo", "eth0"} {
		l, err := in.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "eth0" {
			if err := in.AddrAdd(l, &netlink.Addr{IPNet: ipNet(ip, link.Bits())}); err != nil {
				t.Fatal(err)
			}
		}
		if err := in.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := waitLinksUp(context.Background(), veth, in); err != nil {
		t.Fatalf("upstream veth: %v", err)
	}
	routes, err := netlink.RouteGet(ip.AsSlice())
	if err != nil || len(routes) == 0 || routes[0].LinkIndex != veth.Attrs().Index {
		t.Fatalf("host route to upstream %v does not use veth %s: %v, %v", ip, veth.Name, routes, err)
	}
	return nsPath, ip
}

// TestInternet: only AllowInternet sandboxes are forwarded and masqueraded;
// spoofing an allowed sandbox's address does not help; DenyDestinations wins
// over EgressAllow.
func TestInternet(t *testing.T) {
	cfg, link := testConfig(t)
	cfg.EgressAllow = []netip.Prefix{link} // the fake Internet host is in 10/8, denied by default
	m := newTestManager(t, cfg)
	a := mustCreate(t, m, "sb-off", false)
	b := mustCreate(t, m, "sb-on", true)
	upNS, upIP := upstream(t, link)
	up := serve(t, upNS, upIP.String()+":0", func(c net.Conn) string { return remoteIP(c) })
	natIP := link.Addr().Next().String()

	// Rule state.
	ports, internet, err := m.listElems()
	if err != nil {
		t.Fatal(err)
	}
	if ports[a.HostVeth] != a.IP || ports[b.HostVeth] != b.IP || len(ports) != 2 {
		t.Errorf("ports set = %v, want %s.%v and %s.%v", ports, a.HostVeth, a.IP, b.HostVeth, b.IP)
	}
	if !internet[b.IP] || internet[a.IP] || len(internet) != 1 {
		t.Errorf("internet set = %v, want only %v", internet, b.IP)
	}
	out, err := exec.Command("nft", "list", "chain", "inet", m.tableName(), "postrouting").CombinedOutput()
	if want := `ip saddr @internet oifname != "` + cfg.Bridge + `" masquerade`; err != nil || !strings.Contains(string(out), want) {
		t.Errorf("postrouting chain lacks %q: %s %v", want, out, err)
	}

	// Traffic, all inside this machine.
	if got, err := dialRead(b.NetNSPath, netip.Addr{}, up); err != nil || got != natIP {
		t.Errorf("internet sandbox to upstream: saw %q, %v; want masqueraded to %s", got, err, natIP)
	}
	if got, err := dialRead(a.NetNSPath, netip.Addr{}, up); err == nil {
		t.Errorf("sandbox without internet reached upstream: %q", got)
	}
	// A claims B's address: the bridge drops frames whose source is not A's.
	ha := nsHandle(t, a.NetNSPath)
	eth, err := ha.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if err := ha.AddrAdd(eth, &netlink.Addr{IPNet: ipNet(b.IP, 32)}); err != nil {
		t.Fatalf("spoof address in A: %v", err)
	}
	// One-way UDP shows whether a datagram got through at all.
	if got := udpThrough(t, b.NetNSPath, netip.Addr{}, upNS, upIP); got != natIP {
		t.Errorf("UDP from internet sandbox: upstream saw %q, want %s", got, natIP)
	}
	if got := udpThrough(t, a.NetNSPath, netip.Addr{}, upNS, upIP); got != "" {
		t.Errorf("UDP from sandbox without internet reached upstream from %s", got)
	}
	if got := udpThrough(t, a.NetNSPath, b.IP, upNS, upIP); got != "" {
		t.Errorf("UDP from A spoofing %v reached upstream from %s", b.IP, got)
	}

	// DenyDestinations, installed by New over the running manager.
	deny := cfg
	deny.DenyDestinations = []netip.Prefix{link}
	m2, err := New(context.Background(), deny)
	if err != nil {
		t.Fatalf("New with DenyDestinations: %v", err)
	}
	m2.Close(context.Background())
	if got, err := dialRead(b.NetNSPath, netip.Addr{}, up); err == nil {
		t.Errorf("internet sandbox reached denied %v: %q", up, got)
	}
	if _, internet, _ := m.listElems(); !internet[b.IP] {
		t.Errorf("internet set lost %v when the rules were re-installed", b.IP)
	}
}

// udpThrough sends one datagram from the netns at from (source address src if
// valid) to dst:9 inside the netns at to, and returns the source address the
// receiver saw, or "" if nothing arrived within 500 ms.
func udpThrough(t *testing.T, from string, src netip.Addr, to string, dst netip.Addr) string {
	t.Helper()
	var pc net.PacketConn
	if err := inNS(to, func() (err error) {
		pc, err = net.ListenPacket("udp4", dst.String()+":0")
		return err
	}); err != nil {
		t.Fatalf("udp listen in %s: %v", to, err)
	}
	defer pc.Close()
	target := pc.LocalAddr().(*net.UDPAddr)
	if err := inNS(from, func() error {
		var laddr *net.UDPAddr
		if src.IsValid() {
			laddr = &net.UDPAddr{IP: src.AsSlice()}
		}
		c, err := net.DialUDP("udp4", laddr, target)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("x"))
		return err
	}); err != nil {
		return "" // refused locally (e.g. an ICMP error already cached)
	}
	pc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	buf := make([]byte, 16)
	_, addr, err := pc.ReadFrom(buf)
	if err != nil {
		return ""
	}
	return addr.(*net.UDPAddr).IP.String()
}

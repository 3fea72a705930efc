package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestCreateDestroy(t *testing.T) {
	cfg, _ := testConfig(t)
	m := newTestManager(t, cfg)
	ctx := context.Background()
	sb := mustCreate(t, m, "sb-1", true)
	if _, err := os.Stat(sb.NetNSPath); err != nil {
		t.Fatalf("netns file: %v", err)
	}
	l, err := netlink.LinkByName(sb.HostVeth)
	if err != nil || l.Attrs().MasterIndex != m.brIdx || len(sb.HostVeth) > 15 {
		t.Fatalf("host veth %s: %v (master %v, bridge %d)", sb.HostVeth, err, l, m.brIdx)
	}
	if pi, err := netlink.LinkGetProtinfo(l); err != nil || !pi.Isolated {
		t.Errorf("bridge port %s not isolated: %+v, %v", sb.HostVeth, pi, err)
	}
	if v6, _ := netlink.AddrList(l, netlink.FAMILY_V6); len(v6) != 0 {
		t.Errorf("host veth has IPv6 addresses %v", v6)
	}
	in := nsHandle(t, sb.NetNSPath)
	eth, err := in.LinkByName("eth0")
	if err != nil || eth.Attrs().OperState == netlink.OperDown {
		t.Fatalf("eth0 in netns: %v, %v", eth, err)
	}
	v4, _ := in.AddrList(eth, netlink.FAMILY_V4)
	v6, _ := in.AddrList(eth, netlink.FAMILY_V6)
	if len(v4) != 1 || !v4[0].IP.Equal(sb.IP.AsSlice()) || len(v6) != 0 {
		t.Errorf("eth0 addresses: v4 %v v6 %v; want only %v", v4, v6, sb.IP)
	}
	routes, _ := in.RouteList(eth, netlink.FAMILY_V4)
	var dflt bool
	for _, r := range routes {
		dflt = dflt || (r.Dst == nil || r.Dst.IP.IsUnspecified()) && r.Gw.Equal(m.gateway().AsSlice())
	}
	if !dflt {
		t.Errorf("no default route via %v in %v", m.gateway(), routes)
	}
	got, ok := m.Lookup("sb-1")
	if !ok || *got != *sb {
		t.Fatalf("Lookup = %+v, %v; want %+v", got, ok, sb)
	}
	if _, err := m.Create(ctx, "sb-1", Options{}); !errors.Is(err, ErrExists) {
		t.Errorf("second Create of sb-1: %v, want ErrExists", err)
	}
	if err := m.Destroy(ctx, "sb-1"); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	assertGone(t, m, "sb-1")
	if _, internet, _ := m.listElems(); len(internet) != 0 {
		t.Errorf("internet set after Destroy: %v", internet)
	}
	if n := m.alloc.inUse(); n != 0 {
		t.Errorf("%d addresses still allocated", n)
	}
	if err := m.Destroy(ctx, "sb-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Destroy: %v, want ErrNotFound", err)
	}
	// Unknown to the Manager but with state on the host: removed, ErrNotFound.
	if err := createNetNS(m.nsPath("sb-orphan")); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(ctx, "sb-orphan"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Destroy of an orphan netns: %v, want ErrNotFound", err)
	}
	assertGone(t, m, "sb-orphan")
	again := mustCreate(t, m, "sb-1", false)
	if again.IP == sb.IP {
		t.Errorf("re-created sandbox got the just-freed %v again; want the allocator to move on", sb.IP)
	}
	for _, tc := range []struct{ id string }{{""}, {"../x"}, {"a b"}, {"-x"}} {
		if _, err := m.Create(ctx, tc.id, Options{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Create(%q): %v, want ErrInvalid", tc.id, err)
		}
	}
}

// TestCreateRollback: a Create failing half-way (its veth name is taken)
// leaves no netns file, address or firewall element behind.
func TestCreateRollback(t *testing.T) {
	cfg, _ := testConfig(t)
	m := newTestManager(t, cfg)
	ctx := context.Background()
	squat := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: m.vethName("sb-x")}, PeerName: "wtq" + randHex(6)}
	if err := netlink.LinkAdd(squat); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netlink.LinkDel(squat) })
	if _, err := m.Create(ctx, "sb-x", Options{AllowInternet: true}); !errors.Is(err, ErrExists) {
		t.Fatalf("Create with its veth name taken: %v, want ErrExists", err)
	}
	if _, err := os.Stat(m.nsPath("sb-x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns file left after failed Create: %v", err)
	}
	ports, internet, err := m.listElems()
	if err != nil || len(ports)+len(internet) != 0 || m.alloc.inUse() != 0 {
		t.Errorf("state after failed Create: ports %v internet %v allocated %d (%v)", ports, internet, m.alloc.inUse(), err)
	}
	netlink.LinkDel(squat)
	mustCreate(t, m, "sb-x", true)
}

// TestConcurrentCreate: parallel Creates get distinct addresses; parallel
// Destroys remove everything.
func TestConcurrentCreate(t *testing.T) {
	cfg, _ := testConfig(t)
	m := newTestManager(t, cfg)
	ctx := context.Background()
	const n = 24
	ips := make([]netip.Addr, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			sb, err := m.Create(ctx, fmt.Sprintf("sb-%d", i), Options{AllowInternet: i%2 == 0})
			if err != nil {
				errs <- err
				return
			}
			ips[i] = sb.IP
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Create: %v", err)
	}
	seen := map[netip.Addr]int{}
	for i, ip := range ips {
		if j, dup := seen[ip]; dup {
			t.Errorf("sb-%d and sb-%d both got %v", i, j, ip)
		}
		seen[ip] = i
	}
	if len(m.List()) != n {
		t.Errorf("List has %d sandboxes, want %d", len(m.List()), n)
	}
	for i := range n {
		wg.Go(func() {
			if err := m.Destroy(ctx, fmt.Sprintf("sb-%d", i)); err != nil {
				t.Errorf("Destroy sb-%d: %v", i, err)
			}
		})
	}
	wg.Wait()
	for i := range n {
		assertGone(t, m, fmt.Sprintf("sb-%d", i))
	}
}

// TestCleanupStale: after a crash (the Manager dropped without Destroy, plus
// half-made leftovers) a new Manager removes what is not kept and recovers
// what is.
func TestCleanupStale(t *testing.T) {
	cfg, _ := testConfig(t)
	ctx := context.Background()
	old := newTestManager(t, cfg)
	s1 := mustCreate(t, old, "sb-1", false)
	s2 := mustCreate(t, old, "sb-2", true)
	mustCreate(t, old, "sb-3", true)
	// Leftovers of creates that crashed half-way.
	if err := createNetNS(old.nsPath("sb-half")); err != nil { // netns, no veth
		t.Fatal(err)
	}
	stray := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: old.vethName("sb-gone")}, PeerName: "wtq" + randHex(6)}
	if err := netlink.LinkAdd(stray); err != nil { // veth, no netns
		t.Fatal(err)
	}
	if err := addElems(old.elems(old.vethName("sb-gone"), netip.MustParseAddr("10.213.0.200"), true)); err != nil {
		t.Fatal(err)
	}
	// old is simply dropped: a crash.

	m, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New after crash: %v", err)
	}
	keep := map[string]bool{"sb-1": true, "sb-2": true, "sb-half": true}
	if err := m.CleanupStale(ctx, func(id string) bool { return keep[id] }); err != nil {
		t.Fatalf("CleanupStale: %v", err)
	}
	for _, id := range []string{"sb-3", "sb-half", "sb-gone"} {
		assertGone(t, m, id)
	}
	if l, _ := hostLink(stray.PeerName); l != nil {
		t.Errorf("peer %s of the stray veth still exists", stray.PeerName)
	}
	for _, want := range []*Sandbox{s1, s2} {
		got, ok := m.Lookup(want.ID)
		if !ok || *got != *want {
			t.Errorf("recovered %s = %+v, %v; want %+v", want.ID, got, ok, want)
		}
	}
	ports, internet, err := m.listElems()
	if err != nil || len(ports) != 2 || ports[s1.HostVeth] != s1.IP || ports[s2.HostVeth] != s2.IP {
		t.Errorf("ports set after cleanup: %v, %v", ports, err)
	}
	if len(internet) != 1 || !internet[s2.IP] {
		t.Errorf("internet set after cleanup: %v", internet)
	}
	// The reseeded allocator skips the kept addresses.
	for i := range 5 {
		sb := mustCreate(t, m, fmt.Sprintf("sb-new%d", i), false)
		if sb.IP == s1.IP || sb.IP == s2.IP {
			t.Errorf("new sandbox got kept address %v", sb.IP)
		}
	}
	// The kept sandbox still works: the host reaches it.
	inS1 := serve(t, s1.NetNSPath, "0.0.0.0:0", func(net.Conn) string { return "s1" })
	if got, err := dialRead("", netip.Addr{}, netip.AddrPortFrom(s1.IP, inS1.Port())); err != nil || got != "s1" {
		t.Errorf("host to recovered sandbox: %q, %v", got, err)
	}
	if err := m.Teardown(ctx); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	assertNothingLeft(t, m)
	if _, err := m.Create(ctx, "sb-late", Options{}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Create after Teardown: %v, want ErrUnavailable", err)
	}
}

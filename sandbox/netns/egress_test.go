package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"
)

// refusedFast dials dst from the netns at nsPath and fails t unless the
// connect is refused (RST or an ICMP error), not timed out, within a second.
// It returns how long the refusal took.
func refusedFast(t *testing.T, what, nsPath string, dst netip.AddrPort) time.Duration {
	t.Helper()
	var err error
	var took time.Duration
	if ierr := inNS(nsPath, func() error {
		d := net.Dialer{Timeout: 2 * time.Second}
		start := time.Now()
		var c net.Conn
		c, err = d.Dial("tcp4", dst.String())
		took = time.Since(start)
		if c != nil {
			c.Close()
		}
		return nil
	}); ierr != nil {
		t.Fatal(ierr)
	}
	switch {
	case err == nil:
		t.Errorf("%s: connected to %v", what, dst)
	case !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.EHOSTUNREACH) && !errors.Is(err, syscall.EACCES):
		t.Errorf("%s: connect %v: %v after %v, want a refusal", what, dst, err, took)
	case took >= time.Second:
		t.Errorf("%s: refused only after %v", what, took)
	default:
		t.Logf("%s: %v refused in %v (%v)", what, dst, took, err)
	}
	return took
}

// udpTo sends one datagram from the netns at from to dst inside the netns at
// to and reports whether it arrived within 500 ms.
func udpTo(t *testing.T, from, to string, dst netip.AddrPort) bool {
	t.Helper()
	var pc net.PacketConn
	if err := inNS(to, func() (err error) {
		pc, err = net.ListenPacket("udp4", dst.String())
		return err
	}); err != nil {
		t.Fatalf("udp listen on %v: %v", dst, err)
	}
	defer pc.Close()
	if err := inNS(from, func() error {
		c, err := net.Dial("udp4", dst.String())
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("q"))
		return err
	}); err != nil {
		return false
	}
	pc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, _, err := pc.ReadFrom(make([]byte, 8))
	return err == nil
}

// TestEgressDefaultDeny: an internet-enabled sandbox is refused, fast, at a
// link-local metadata address and a private address (both real hosts in
// netns the test made, routed from the host), reaches both once EgressAllow
// lists their ranges, is refused at a platform address even inside an
// allowed range, and reaches a nameserver in a denied range on port 53 only.
func TestEgressDefaultDeny(t *testing.T) {
	cfg, privLink := testConfig(t)
	metaLink := netip.MustParsePrefix("169.254.169.252/30") // the netns end is 169.254.169.254
	dnsLink := netip.MustParsePrefix(fmt.Sprintf("172.30.%d.0/30", cfg.Subnet.Addr().As4()[2]))
	dnsIP := dnsLink.Addr().Next().Next()
	cfg.Nameservers = []netip.Addr{dnsIP}
	m := newTestManager(t, cfg)
	sb := mustCreate(t, m, "sb-egress", true)
	off := mustCreate(t, m, "sb-offline", false)

	metaNS, metaIP := upstream(t, metaLink)
	if metaIP != netip.MustParseAddr("169.254.169.254") {
		t.Fatalf("metadata host got %v", metaIP)
	}
	privNS, privIP := upstream(t, privLink)
	dnsNS, _ := upstream(t, dnsLink)
	meta := serve(t, metaNS, metaIP.String()+":80", func(net.Conn) string {
		return "HTTP/1.0 200 OK\r\n\r\nsecret-token"
	})
	priv := serve(t, privNS, privIP.String()+":0", func(net.Conn) string { return "private" })
	dns53 := serve(t, dnsNS, dnsIP.String()+":53", func(net.Conn) string { return "dns" })
	dns80 := serve(t, dnsNS, dnsIP.String()+":80", func(net.Conn) string { return "web" })

	// Default: both refused, fast.
	var worst time.Duration
	for what, dst := range map[string]netip.AddrPort{"metadata": meta, "private": priv, "nameserver port 80": dns80} {
		worst = max(worst, refusedFast(t, what, sb.NetNSPath, dst))
	}
	t.Logf("slowest refusal: %v", worst)
	// DNS: port 53 of the nameserver, TCP and UDP; not from an offline sandbox.
	if got, err := dialRead(sb.NetNSPath, netip.Addr{}, dns53); err != nil || got != "dns" {
		t.Errorf("nameserver %v over TCP: %q, %v", dns53, got, err)
	}
	if !udpTo(t, sb.NetNSPath, dnsNS, netip.AddrPortFrom(dnsIP, 53)) {
		t.Errorf("nameserver %v:53 over UDP: nothing arrived", dnsIP)
	}
	if got, err := dialRead(off.NetNSPath, netip.Addr{}, dns53); err == nil {
		t.Errorf("sandbox without internet reached the nameserver: %q", got)
	}

	// Operator allow-list: the same hosts become reachable (routing works).
	allow := cfg
	allow.EgressAllow = []netip.Prefix{metaLink, privLink}
	m2, err := New(context.Background(), allow)
	if err != nil {
		t.Fatalf("New with EgressAllow: %v", err)
	}
	m2.Close(context.Background())
	if got, err := dialRead(sb.NetNSPath, netip.Addr{}, meta); err != nil || got != "HTTP/1.0 200 OK\r\n\r\nsecret-token" {
		t.Errorf("allowed metadata host: %q, %v", got, err)
	}
	if got, err := dialRead(sb.NetNSPath, netip.Addr{}, priv); err != nil || got != "private" {
		t.Errorf("allowed private host: %q, %v", got, err)
	}
	refusedFast(t, "nameserver port 80 with allow-list", sb.NetNSPath, dns80)

	// Platform addresses: refused even inside an allowed range, until removed.
	if err := m.SetPlatformAddrs([]netip.Addr{privIP, netip.MustParseAddr("2001:db8::1")}); err != nil {
		t.Fatalf("SetPlatformAddrs: %v", err)
	}
	if got, err := m.PlatformAddrs(); err != nil || len(got) != 1 || got[0] != privIP {
		t.Errorf("platform set = %v, %v; want [%v]", got, err, privIP)
	}
	refusedFast(t, "platform address", sb.NetNSPath, priv)
	if got, err := dialRead(sb.NetNSPath, netip.Addr{}, meta); err != nil || got == "" {
		t.Errorf("metadata host (not a platform address): %q, %v", got, err)
	}
	// A re-install keeps the set.
	m3, err := New(context.Background(), allow)
	if err != nil {
		t.Fatalf("New again: %v", err)
	}
	m3.Close(context.Background())
	refusedFast(t, "platform address after re-install", sb.NetNSPath, priv)
	if err := m.SetPlatformAddrs(nil); err != nil {
		t.Fatalf("SetPlatformAddrs(nil): %v", err)
	}
	if got, err := dialRead(sb.NetNSPath, netip.Addr{}, priv); err != nil || got != "private" {
		t.Errorf("private host after its platform address was removed: %q, %v", got, err)
	}
}

func TestEgressConfigValidate(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"EgressAllow": func(c *Config) { c.EgressAllow = []netip.Prefix{netip.MustParsePrefix("fd00::/8")} },
		"Nameservers": func(c *Config) { c.Nameservers = []netip.Addr{netip.MustParseAddr("::1")} },
	} {
		c := DefaultConfig()
		c.Prefix = "wtv"
		mod(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: Validate = %v, want ErrInvalid naming it", name, err)
		}
	}
	if got := prefixList([]netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}); got != "10.0.0.0/8" {
		t.Errorf("prefixList merged to %q", got)
	}
}

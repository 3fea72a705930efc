package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// publicLinks returns n /30 links in 198.18.0.0/15 (benchmark space, not in
// DefaultDenied, so "public" to the rules), distinct per test config; the
// upstream helper checks the host routes each into a test veth.
func publicLinks(cfg Config, n int) []netip.Prefix {
	k := cfg.Subnet.Addr().As4()[2]
	var out []netip.Prefix
	for i := range n {
		out = append(out, netip.MustParsePrefix(fmt.Sprintf("198.%d.%d.%d/30", 18+i/64, k, 4*(i%64))))
	}
	return out
}

// refusedWithin dials dst from nsPath and fails t unless a TCP reset
// (ECONNREFUSED) comes back within 100 ms.
func refusedWithin(t *testing.T, what, nsPath string, dst netip.AddrPort) time.Duration {
	t.Helper()
	var err error
	var took time.Duration
	if ierr := inNS(nsPath, func() error {
		d := net.Dialer{Timeout: time.Second}
		start := time.Now()
		c, derr := d.Dial("tcp4", dst.String())
		took, err = time.Since(start), derr
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
	case !errors.Is(err, syscall.ECONNREFUSED):
		t.Errorf("%s: connect %v: %v after %v, want a TCP reset (connection refused)", what, dst, err, took)
	case took > 100*time.Millisecond:
		t.Errorf("%s: refused only after %v (want ≤ 100 ms)", what, took)
	default:
		t.Logf("%s: %v refused by a reset in %v", what, dst, took)
	}
	return took
}

func reaches(t *testing.T, what, nsPath string, dst netip.AddrPort, want string) {
	t.Helper()
	if got, err := dialRead(nsPath, netip.Addr{}, dst); err != nil || got != want {
		t.Errorf("%s: %v answered %q, %v; want %q", what, dst, got, err, want)
	}
}

// assertNoEgressObjects fails unless the inet table holds no chain, set or
// map element of the sandbox with veth and ip.
func assertNoEgressObjects(t *testing.T, m *Manager, veth string, ip netip.Addr) {
	t.Helper()
	out, err := exec.Command("nft", "list", "table", "inet", m.tableName()).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list table: %v: %s", err, out)
	}
	if s := string(out); strings.Contains(s, veth) || strings.Contains(s, ip.String()+" :") {
		t.Errorf("egress objects of %s (%v) left:\n%s", veth, ip, s)
	}
}

// TestEgressRulesCIDR: a sandbox's own allow and deny prefixes, deny winning,
// a default-deny sandbox, a change on the running sandbox, no team opening of
// the private ranges, and nothing left after destroy.
func TestEgressRulesCIDR(t *testing.T) {
	cfg, privLink := testConfig(t)
	m := newTestManager(t, cfg)
	links := publicLinks(cfg, 3)
	var hosts []netip.AddrPort
	for i, l := range links {
		ns, ip := upstream(t, l)
		name := fmt.Sprint("host", i)
		hosts = append(hosts, serve(t, ns, ip.String()+":0", func(net.Conn) string { return name }))
	}
	privNS, privIP := upstream(t, privLink)
	priv := serve(t, privNS, privIP.String()+":0", func(net.Conn) string { return "private" })
	a, b, c := links[0], links[1], links[2]

	sb, err := m.Create(context.Background(), "sb-rules", Options{AllowInternet: true, Egress: &EgressRules{
		Allow: []netip.Prefix{a, b, privLink}, Deny: []netip.Prefix{b},
	}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	reaches(t, "allowed prefix", sb.NetNSPath, hosts[0], "host0")
	worst := refusedWithin(t, "denied prefix (also allowed: deny wins)", sb.NetNSPath, hosts[1])
	reaches(t, "unlisted, default allow", sb.NetNSPath, hosts[2], "host2")
	worst = max(worst, refusedWithin(t, "private range a team allowed", sb.NetNSPath, priv))

	// A change on the running sandbox: default deny, only c allowed.
	if err := m.SetEgress(context.Background(), "sb-rules", &EgressRules{DefaultDeny: true, Allow: []netip.Prefix{c}}); err != nil {
		t.Fatalf("SetEgress: %v", err)
	}
	worst = max(worst, refusedWithin(t, "formerly allowed, now default deny", sb.NetNSPath, hosts[0]))
	reaches(t, "allowed after the change", sb.NetNSPath, hosts[2], "host2")
	if err := m.SetEgress(context.Background(), "sb-rules", nil); err != nil {
		t.Fatalf("SetEgress(nil): %v", err)
	}
	assertNoEgressObjects(t, m, sb.HostVeth, sb.IP)
	reaches(t, "rules removed", sb.NetNSPath, hosts[0], "host0")
	t.Logf("slowest refusal: %v", worst)

	// Destroy removes the chain, sets and map element.
	if err := m.SetEgress(context.Background(), "sb-rules", &EgressRules{Deny: []netip.Prefix{a}}); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(context.Background(), "sb-rules"); err != nil {
		t.Fatal(err)
	}
	assertNoEgressObjects(t, m, sb.HostVeth, sb.IP)
	// So does a failed create, and a bad rule is refused before anything.
	if _, err := m.Create(context.Background(), "sb-bad", Options{AllowInternet: true, Egress: &EgressRules{Allow: []netip.Prefix{netip.MustParsePrefix("fd00::/8")}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Create with an IPv6 rule: %v, want ErrInvalid", err)
	}
	assertGone(t, m, "sb-bad")
	if err := m.SetEgress(context.Background(), "sb-none", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetEgress of an unknown sandbox: %v", err)
	}
}

// dnsServer answers A queries for any name with the address in *answer and a
// one-second TTL, on a loopback UDP port of the host.
func dnsServer(t *testing.T, answer *atomic.Value) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var q dnsmessage.Message
			if q.Unpack(buf[:n]) != nil || len(q.Questions) != 1 {
				continue
			}
			a := answer.Load().(netip.Addr).As4()
			resp := dnsmessage.Message{
				Header:    dnsmessage.Header{ID: q.ID, Response: true, Authoritative: true},
				Questions: q.Questions,
				Answers: []dnsmessage.Resource{{
					Header: dnsmessage.ResourceHeader{Name: q.Questions[0].Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 1},
					Body:   &dnsmessage.AResource{A: a},
				}},
			}
			if b, err := resp.Pack(); err == nil {
				pc.WriteTo(b, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

// TestEgressRulesDomain: an allowed domain name follows its DNS answer: when
// the answer changes, the new address opens and the old one closes once its
// TTL ends.
func TestEgressRulesDomain(t *testing.T) {
	cfg, _ := testConfig(t)
	m := newTestManager(t, cfg)
	links := publicLinks(cfg, 2)
	var hosts []netip.AddrPort
	for i, l := range links {
		ns, ip := upstream(t, l)
		name := fmt.Sprint("host", i)
		hosts = append(hosts, serve(t, ns, ip.String()+":0", func(net.Conn) string { return name }))
	}
	var answer atomic.Value
	answer.Store(hosts[0].Addr())
	res, err := NewResolver(dnsServer(t, &answer), m, m.log)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	sb, err := m.Create(context.Background(), "sb-dns", Options{AllowInternet: true, Egress: &EgressRules{DefaultDeny: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Watch("sb-dns", []string{"api.example.test"}, nil); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	reaches(t, "first answer", sb.NetNSPath, hosts[0], "host0")
	refusedWithin(t, "not (yet) the answer", sb.NetNSPath, hosts[1])

	answer.Store(hosts[1].Addr())
	start := time.Now()
	for {
		if got, err := dialRead(sb.NetNSPath, netip.Addr{}, hosts[1]); err == nil && got == "host1" {
			break
		}
		if time.Since(start) > 4*time.Second {
			t.Fatalf("new answer %v not reachable after %v", hosts[1], time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		if _, err := dialRead(sb.NetNSPath, netip.Addr{}, hosts[0]); err != nil {
			break
		}
		if time.Since(start) > 4*time.Second {
			t.Fatalf("old answer %v still reachable after %v", hosts[0], time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("rules followed the changed answer in %v (TTL 1 s)", time.Since(start))
	refusedWithin(t, "old answer after its TTL", sb.NetNSPath, hosts[0])
	res.Stop("sb-dns")
	if err := m.Destroy(context.Background(), "sb-dns"); err != nil {
		t.Fatal(err)
	}
	assertNoEgressObjects(t, m, sb.HostVeth, sb.IP)
}

func TestParseEgressList(t *testing.T) {
	l, err := ParseEgressList("allow_out", []string{"1.2.3.4", "10.0.0.0/8", "api.example.com", "Example.org"[1:]})
	if err != nil || len(l.Nets) != 2 || l.Nets[0].Bits() != 32 || len(l.Hosts) != 2 {
		t.Errorf("parse = %+v, %v", l, err)
	}
	for in, want := range map[string]string{
		"":                                "allow_out[1]",
		"10.0.0.1/8":                      "host bits",
		"fd00::/8":                        "IPv6",
		"::1":                             "IPv6",
		"*.example.com":                   "wildcard",
		"localhost":                       "with a dot",
		"bad_name.com":                    "label",
		"1.2.3.999":                       "numeric",
		"10.0.0.0/33":                     "CIDR",
		strings.Repeat("a.", 130) + "com": "253",
	} {
		_, err := ParseEgressList("allow_out", []string{"8.8.8.8", in})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "allow_out[1]") || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want ErrInvalid naming allow_out[1] and %q", in, err, want)
		}
	}
	if _, err := ParseEgressList("deny_out", make([]string, MaxEgressEntries+1)); err == nil || !strings.Contains(err.Error(), "deny_out") {
		t.Errorf("too many entries: %v", err)
	}
}

package hardening_test

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
)

var inetRe = regexp.MustCompile(`inet (\d+\.\d+\.\d+\.\d+)/`)

// sandboxIP reads a sandbox's eth0 address from inside it.
func sandboxIP(t *testing.T, c *client, id string) string {
	t.Helper()
	out := c.mustSh(t, id, "ip -4 -o addr show dev eth0")
	if m := inetRe.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	t.Fatalf("no address in %q", out)
	return ""
}

// hostListener accepts on every host address and answers a secret; it
// closes when t ends.
func hostListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("host-secret\n"))
			c.Close()
		}
	}()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// TestEscapeNetwork: from inside a sandbox, no connection reaches the node's
// API, a host listener on any host address, or another sandbox; raw sockets
// are refused (TestEscapeSyscalls) and so is changing the sandbox's address.
func TestEscapeNetwork(t *testing.T) {
	n, c := startNode(t)
	a, b := c.create(t, nil), c.create(t, nil)
	c.upload(t, a, "/probe", probe(t), "0755")
	ipA, ipB := sandboxIP(t, c, a), sandboxIP(t, c, b)
	c.mustSh(t, b, "mkdir -p /www && echo from-b > /www/index.html && httpd -p 8080 -h /www")
	c.mustSh(t, a, "mkdir -p /www && echo from-a > /www/index.html && httpd -p 9000 -h /www")
	// Controls: the probe connects where it may (its own loopback), and the
	// host reaches B's server.
	if got := runProbe(t, c, a, "connect", "127.0.0.1:9000"); !strings.HasPrefix(got, "ESCAPED") {
		t.Fatalf("control: the probe cannot reach its own server: %s", got)
	}
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort(ipB, "8080"), 2*time.Second); err != nil {
		t.Fatalf("control: the host cannot reach B at %s: %v", ipB, err)
	} else {
		conn.Close()
	}

	gw := netip.MustParsePrefix(n.Config.Subnet).Addr().Next().String()
	_, apiPort, _ := net.SplitHostPort(strings.TrimPrefix(n.URL, "http://"))
	hostPort := hostListener(t)
	targets := []string{
		net.JoinHostPort(gw, apiPort), net.JoinHostPort(gw, hostPort), net.JoinHostPort(gw, "22"),
		net.JoinHostPort(gw, "5432"), net.JoinHostPort(ipB, "8080"), net.JoinHostPort(ipB, "22"),
		"127.0.0.1:" + apiPort, // the sandbox's own loopback, not the host's
	}
	// Every address of the host (other bridges' gateways, eth0, …).
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, ad := range addrs {
		if ipn, ok := ad.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			targets = append(targets, net.JoinHostPort(ipn.IP.String(), hostPort))
		}
	}
	for _, tgt := range targets {
		got := runProbe(t, c, a, "connect", tgt)
		attack(t, "network", "connect "+tgt, strings.HasPrefix(got, "BLOCKED"), got)
	}
	for _, cmd := range []string{
		fmt.Sprintf("wget -T 2 -q -O - http://%s:8080/", ipB),
		fmt.Sprintf("wget -T 2 -q -O - http://%s:%s/healthz", gw, apiPort),
		fmt.Sprintf("nc -w 1 %s %s </dev/null | grep host-secret", gw, hostPort),
		"ping -c 1 -W 1 " + ipB,
		"ping -c 1 -W 1 " + gw,
	} {
		res := c.sh(t, a, cmd, 20)
		attack(t, "network", cmd, res.ExitCode != 0 && !strings.Contains(res.Stdout, "from-b"), res)
	}
	// Taking B's address: refused without CAP_NET_ADMIN, and B's address
	// stays B's.
	res := c.sh(t, a, fmt.Sprintf("ip addr add %s/32 dev eth0", ipB), 10)
	attack(t, "network", "take another sandbox's address", res.ExitCode != 0, res)
	if got := sandboxIP(t, c, a); got != ipA {
		attack(t, "network", "address unchanged", false, got)
	}
}

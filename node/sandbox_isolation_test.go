package node_test

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
)

var ipRe = regexp.MustCompile(`inet (\d+\.\d+\.\d+\.\d+)/`)

// sandboxIP reads a sandbox's address from inside it.
func sandboxIP(t *testing.T, a *api, id string) string {
	t.Helper()
	out := a.sh(t, id, "ip -4 -o addr show")
	for _, m := range ipRe.FindAllStringSubmatch(out, -1) {
		if m[1] != "127.0.0.1" {
			return m[1]
		}
	}
	t.Fatalf("no address in %q", out)
	return ""
}

// TestSandboxIsolation: from inside a sandbox, the host's processes, mounts,
// other sandboxes and the node's ports are out of reach, and its root is an
// unprivileged host uid.
func TestSandboxIsolation(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	a := newAPI(n)
	sa, sb := a.create(t, nil), a.create(t, nil)
	prefix := hostPrefix(t, n.DataDir)

	t.Run("processes", func(t *testing.T) {
		out := a.sh(t, sa.ID, "ps -o pid,user,args")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < 3 || len(lines) > 6 || !strings.Contains(lines[1], "agent") || !strings.HasPrefix(strings.TrimSpace(lines[1]), "1 ") {
			t.Fatalf("ps inside shows more than the agent and ps itself:\n%s", out)
		}
		for _, host := range []string{"postgres", "node.test", "runc"} {
			if strings.Contains(out, host) {
				t.Fatalf("ps inside shows the host's %s:\n%s", host, out)
			}
		}
	})

	t.Run("mount", func(t *testing.T) {
		res := a.exec(t, sa.ID, "mount -t tmpfs x /mnt", 10)
		if res.ExitCode == 0 {
			t.Fatalf("mount succeeded inside: %+v", res)
		}
		if out := a.sh(t, sa.ID, "grep -c ' /mnt ' /proc/mounts || true"); strings.TrimSpace(out) != "0" {
			t.Fatalf("/mnt is mounted after the failed mount: %q", out)
		}
		if out := a.sh(t, sa.ID, "hostname"); out != "sandbox\n" {
			t.Fatalf("hostname: %q", out)
		}
	})

	t.Run("uid", func(t *testing.T) {
		if out := strings.Join(strings.Fields(a.sh(t, sa.ID, "cat /proc/self/uid_map")), " "); out != "0 100000 65536" {
			t.Fatalf("uid_map inside: %q", out)
		}
		if out := a.sh(t, sa.ID, "id -u"); out != "0\n" {
			t.Fatalf("id -u inside: %q", out)
		}
		procs := sandboxHostObjects(t, n.DataDir, prefix, sa.ID).Procs
		if len(procs) == 0 {
			t.Fatal("no host process is rooted in the sandbox's rootfs")
		}
		for _, pid := range procs {
			if uid := hostUID(t, pid); uid == 0 || uid < 100000 {
				t.Fatalf("host pid %s of the sandbox runs as host uid %d", pid, uid)
			}
		}
	})

	t.Run("network", func(t *testing.T) {
		ipA, ipB := sandboxIP(t, a, sa.ID), sandboxIP(t, a, sb.ID)
		if ipA == ipB {
			t.Fatalf("both sandboxes have %s", ipA)
		}
		a.sh(t, sb.ID, "mkdir -p /www && echo from-b > /www/index.html && httpd -p 8080 -h /www")
		// Positive controls: B serves, and the host reaches it.
		if out := a.sh(t, sb.ID, "wget -q -O - http://127.0.0.1:8080/"); out != "from-b\n" {
			t.Fatalf("B's server from B: %q", out)
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ipB, "8080"), 2*time.Second)
		if err != nil {
			t.Fatalf("the host cannot reach B's server at %s: %v", ipB, err)
		}
		c.Close()
		s := time.Now()
		if res := a.exec(t, sa.ID, fmt.Sprintf("nc -w 1 %s 8080 </dev/null", ipB), 10); res.ExitCode == 0 {
			t.Fatalf("A reached B's port: %+v", res)
		}
		if res := a.exec(t, sa.ID, fmt.Sprintf("wget -T 2 -q -O - http://%s:8080/", ipB), 10); res.ExitCode == 0 || strings.Contains(res.Stdout, "from-b") {
			t.Fatalf("A fetched from B: %+v", res)
		}
		if res := a.exec(t, sa.ID, "ping -c 1 -W 1 "+ipB, 10); res.ExitCode == 0 {
			t.Fatalf("A pings B: %+v", res)
		}
		t.Logf("A → B probes failed in %s", time.Since(s))

		// The node: its API port, and a port bound on every address (as the
		// gRPC, gossip and raft ports are), on the bridge gateway.
		gw := netip.MustParsePrefix(n.Config.Subnet).Addr().Next().String()
		ln, err := net.Listen("tcp", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("host-secret\n"))
				c.Close()
			}
		}()
		hostPort := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(gw, hostPort), 2*time.Second); err != nil {
			t.Fatalf("the host's own listener is not reachable on the gateway %s: %v", gw, err)
		} else {
			c.Close()
		}
		_, apiPort, _ := net.SplitHostPort(strings.TrimPrefix(n.URL, "http://"))
		for _, target := range []string{gw + " " + hostPort, gw + " " + apiPort, "127.0.0.1 " + apiPort} {
			res := a.exec(t, sa.ID, "nc -w 1 "+target+" </dev/null", 10)
			if res.ExitCode == 0 || strings.Contains(res.Stdout, "host-secret") {
				t.Fatalf("the sandbox reached the node at %s: %+v", target, res)
			}
		}
		if res := a.exec(t, sa.ID, fmt.Sprintf("wget -T 2 -q -O - http://%s:%s/healthz", gw, apiPort), 10); res.ExitCode == 0 {
			t.Fatalf("the sandbox reached the node's API on the gateway: %+v", res)
		}
	})
}

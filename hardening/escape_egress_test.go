package hardening_test

import (
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/warrenhq/warren/node"
	"github.com/warrenhq/warren/node/nodetest"
	"golang.org/x/sys/unix"
)

// egressHost is a fake machine: a netns the test makes, joined to the host by
// a veth whose host end has hostIP/30 and whose netns end has ip. It serves
// TCP on ip:port, answering "hello from <ip>".
func egressHost(t *testing.T, hostIP, ip string, port int) string {
	t.Helper()
	sfx := nodetest.RandomSuffix(4)
	ns := nodetest.NewNetNS(t, "wteg"+sfx)
	veth := "wteg" + sfx
	if out, err := exec.Command("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns.Name).CombinedOutput(); err != nil {
		t.Fatalf("veth %s: %v: %s", veth, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", veth).Run() })
	for _, args := range [][]string{{"addr", "add", hostIP + "/30", "dev", veth}, {"link", "set", veth, "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	ns.Run(t, "ip", "addr", "add", ip+"/30", "dev", "eth0")
	ns.Run(t, "ip", "link", "set", "eth0", "up")
	if out, err := exec.Command("ip", "-o", "route", "get", ip).CombinedOutput(); err != nil || !strings.Contains(string(out), "dev "+veth) {
		t.Fatalf("host route to %s does not use %s: %s %v", ip, veth, out, err)
	}
	addr := net.JoinHostPort(ip, fmt.Sprint(port))
	lnc := make(chan net.Listener, 1)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread is discarded
		fd, err := unix.Open(ns.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		var ln net.Listener
		if err == nil {
			ln, err = net.Listen("tcp4", addr)
		}
		if err != nil {
			errc <- err
			return
		}
		lnc <- ln
	}()
	var ln net.Listener
	select {
	case err := <-errc:
		t.Fatalf("listen on %s in %s: %v", addr, ns.Name, err)
	case ln = <-lnc:
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hello from " + ip + "\n"))
			c.Close()
		}
	}()
	return addr
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

// TestEscapeEgress: an internet-enabled sandbox is refused, fast (TCP reset or
// ICMP admin-prohibited, never a silent drop), at a link-local metadata
// address, a private address, another node's advertise address (a public
// address in the platform set) and the node's own raft, gossip, gRPC, API and
// Postgres ports on every node address. Controls: a public test host is
// reachable, and so is a private one inside --egress-allow.
func TestEscapeEgress(t *testing.T) {
	raft, gossip, grpc := freePort(t), freePort(t), freePort(t)
	const otherNode = "198.51.100.2" // TEST-NET-2: public for the firewall
	n, c := startNode(t,
		nodetest.WithEgressAllow("172.31.250.4/30"),
		nodetest.WithAdvertise(otherNode),
		func(cfg *node.Config) {
			cfg.Cluster.RaftAddr, cfg.Cluster.GossipAddr, cfg.Cluster.GRPCAddr = "0.0.0.0:"+raft, "0.0.0.0:"+gossip, "0.0.0.0:"+grpc
		})
	metadata := egressHost(t, "169.254.169.253", "169.254.169.254", 80)
	private := egressHost(t, "10.213.251.1", "10.213.251.2", 8080)
	platform := egressHost(t, "198.51.100.1", otherNode, 7946)
	public := egressHost(t, "198.51.100.5", "198.51.100.6", 8080)
	allowed := egressHost(t, "172.31.250.5", "172.31.250.6", 8080)

	sb := c.create(t, map[string]any{"allow_internet_access": true})
	c.upload(t, sb, "/probe", probe(t), "0755")
	// Controls: the routes work and the probe sees a success as one.
	for _, ctl := range []string{public, allowed} {
		if got := runProbe(t, c, sb, "refused", ctl); !strings.HasPrefix(got, "ESCAPED connected") {
			t.Fatalf("control: the sandbox cannot reach test host %s: %s", ctl, got)
		}
	}
	if res := c.sh(t, sb, "nc -w 1 "+strings.Replace(allowed, ":", " ", 1)+" </dev/null | grep hello", 20); !strings.Contains(res.Stdout, "hello from") {
		t.Fatalf("control: nc to allowed host %s: %+v", allowed, res)
	}

	targets := []string{metadata, private, platform}
	dbURL, err := url.Parse(n.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	pgPort := dbURL.Port()
	if pgPort == "" {
		pgPort = "5432"
	}
	_, apiPort, _ := net.SplitHostPort(strings.TrimPrefix(n.URL, "http://"))
	nodeAddrs := []string{strings.TrimSuffix(strings.Split(n.Config.Subnet, "/")[0], ".0") + ".1"}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			nodeAddrs = append(nodeAddrs, ipn.IP.String())
		}
	}
	for _, host := range nodeAddrs {
		for _, p := range []string{raft, gossip, grpc, apiPort, pgPort} {
			targets = append(targets, net.JoinHostPort(host, p))
		}
	}
	for _, tgt := range targets {
		got := runProbe(t, c, sb, "refused", tgt)
		attack(t, "egress", "connect "+tgt+" from an internet sandbox", strings.HasPrefix(got, "BLOCKED"), got)
		t.Logf("%s: %s", tgt, got)
	}
	for _, cmd := range []string{
		"nc -w 1 " + strings.Replace(metadata, ":", " ", 1) + " </dev/null | grep hello",
		"nc -w 1 " + strings.Replace(private, ":", " ", 1) + " </dev/null | grep hello",
		"nc -w 1 " + strings.Replace(platform, ":", " ", 1) + " </dev/null | grep hello",
	} {
		res := c.sh(t, sb, cmd, 20)
		attack(t, "egress", cmd, res.ExitCode != 0 && !strings.Contains(res.Stdout, "hello"), res)
	}
}

package nodetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NetNS is a named network namespace a test made (/run/netns/<Name>) with
// its loopback up. It is deleted when the test ends. Processes run in it
// through nsenter with only the network namespace changed: unlike `ip netns
// exec`, which remounts /sys, they keep the host's cgroup mounts (runc needs
// them) and its mount namespace (so /run/netns, loop devices and mounts a
// node makes are the host's).
type NetNS struct {
	Name string
}

// RandomSuffix returns n random bytes in hex, for names that must not collide
// with those of concurrent tests (interface names are at most 15 bytes).
func RandomSuffix(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewNetNS makes the namespace name (which must be unique on the host, see
// RandomSuffix), brings lo up in it and deletes it when t ends.
func NewNetNS(t testing.TB, name string) *NetNS {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	ns := &NetNS{Name: name}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v: %s", name, err, out)
		}
	})
	ns.Run(t, "ip", "link", "set", "lo", "up")
	return ns
}

// Path is the namespace's file, for setns(2) or nsenter --net.
func (n *NetNS) Path() string { return "/run/netns/" + n.Name }

// Command returns cmd prepared to run inside the namespace (by nsenter,
// which execs it: the process's pid is the command's own).
func (n *NetNS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=" + n.Path(), "--", name}, args...)...)
}

// Run runs a command inside the namespace and fails t if it fails.
func (n *NetNS) Run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := n.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("in netns %s: %s %s: %v: %s", n.Name, name, strings.Join(args, " "), err, out)
	}
}

// DialContext dials addr from inside the namespace. The socket is made on a
// thread moved into the namespace; a socket keeps its namespace for life, so
// the connection works from any goroutine. The thread is never returned to
// the scheduler: its goroutine ends locked and the runtime discards it.
func (n *NetNS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // deliberately never unlocked
		f, err := os.Open(n.Path())
		if err != nil {
			ch <- result{nil, err}
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			ch <- result{nil, fmt.Errorf("setns %s: %w", n.Path(), err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// HTTPClient returns a client whose connections are dialled inside the
// namespace, each call bounded by timeout.
func (n *NetNS) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext:         n.DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}}
}

// Switch is a network namespace holding Linux bridges, the "switches" that
// test namespaces are cabled to with veth pairs. Cables can be unplugged
// (link down) to partition the namespaces and plugged back to heal.
type Switch struct {
	NS *NetNS
	t  testing.TB

	mu sync.Mutex
	n  int
}

// NewSwitch makes a switch namespace called name (unique on the host).
func NewSwitch(t testing.TB, name string) *Switch {
	t.Helper()
	return &Switch{NS: NewNetNS(t, name), t: t}
}

// Bridge adds a bridge called name (spanning tree off, so a port forwards
// at once) and brings it up.
func (s *Switch) Bridge(name string) {
	s.t.Helper()
	s.NS.Run(s.t, "ip", "link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0")
	s.NS.Run(s.t, "ip", "link", "set", name, "up")
}

func (s *Switch) nextIf(kind string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprintf("%s%d", kind, s.n)
}

// Cable is a veth pair inside a switch namespace joining two of its bridges.
type Cable struct {
	s    *Switch
	A, B string // the veth ends, in bridge a and bridge b
}

// Trunk joins bridges a and b with a cable, up.
func (s *Switch) Trunk(a, b string) *Cable {
	s.t.Helper()
	c := &Cable{s: s, A: s.nextIf("trk"), B: s.nextIf("trk")}
	s.NS.Run(s.t, "ip", "link", "add", c.A, "type", "veth", "peer", "name", c.B)
	s.NS.Run(s.t, "ip", "link", "set", c.A, "master", a)
	s.NS.Run(s.t, "ip", "link", "set", c.B, "master", b)
	c.Plug()
	return c
}

// Unplug takes both ends of the cable down: nothing crosses it any more.
func (c *Cable) Unplug() {
	c.s.t.Helper()
	c.s.NS.Run(c.s.t, "ip", "link", "set", c.A, "down")
	c.s.NS.Run(c.s.t, "ip", "link", "set", c.B, "down")
}

// Plug brings both ends of the cable up.
func (c *Cable) Plug() {
	c.s.t.Helper()
	c.s.NS.Run(c.s.t, "ip", "link", "set", c.A, "up")
	c.s.NS.Run(c.s.t, "ip", "link", "set", c.B, "up")
}

// Port is the switch end of a namespace's cable.
type Port struct {
	s      *Switch
	Name   string // the veth end in the switch namespace
	Bridge string // the bridge it is attached to
}

// Connect cables ns to bridge: a veth "eth0" in ns with the address cidr
// (e.g. "172.31.7.2/24"), up, its peer a port of bridge. A namespace has one
// such cable.
func (s *Switch) Connect(ns *NetNS, bridge, cidr string) *Port {
	s.t.Helper()
	p := &Port{s: s, Name: s.nextIf("port"), Bridge: bridge}
	s.NS.Run(s.t, "ip", "link", "add", p.Name, "type", "veth", "peer", "name", "eth0", "netns", ns.Name)
	s.NS.Run(s.t, "ip", "link", "set", p.Name, "master", bridge)
	s.NS.Run(s.t, "ip", "link", "set", p.Name, "up")
	ns.Run(s.t, "ip", "addr", "add", cidr, "dev", "eth0")
	ns.Run(s.t, "ip", "link", "set", "eth0", "up")
	return p
}

// Move re-attaches the port to another bridge of the switch.
func (p *Port) Move(bridge string) {
	p.s.t.Helper()
	p.s.NS.Run(p.s.t, "ip", "link", "set", p.Name, "master", bridge)
	p.Bridge = bridge
}

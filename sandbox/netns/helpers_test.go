package netns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Tests use their own prefix, bridge and a subnet in 10.213.0.0/16, so they
// never touch a running node's objects; all traffic stays on this machine,
// inside namespaces the tests create.

var subnetSeq atomic.Int32

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("sandbox/netns tests need root (network namespaces, bridges, nftables)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("sandbox/netns tests need nft(8): install the nftables package")
	}
}

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// testConfig returns a config with a fresh prefix, bridge and /24 subnet, and
// the /30 next to it (for an "upstream" netns).
func testConfig(t testing.TB) (Config, netip.Prefix) {
	k := (subnetSeq.Add(1)-1)%127 + 1 // 2k+1 ≤ 255 however often tests repeat
	h := randHex(4)
	cfg := Config{
		Prefix: "wt" + h,
		Bridge: "wtbr" + h,
		Subnet: netip.MustParsePrefix(fmt.Sprintf("10.213.%d.0/24", 2*k)),
		Logger: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return cfg, netip.MustParsePrefix(fmt.Sprintf("10.213.%d.0/30", 2*k+1))
}

// newTestManager creates a Manager and registers its Teardown, followed by a
// check that nothing of its prefix remains.
func newTestManager(t testing.TB, cfg Config) *Manager {
	t.Helper()
	requireRoot(t)
	m, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Teardown(context.Background()); err != nil {
			t.Errorf("Teardown: %v", err)
		}
		assertNothingLeft(t, m)
	})
	return m
}

func assertNothingLeft(t testing.TB, m *Manager) {
	t.Helper()
	entries, _ := os.ReadDir(m.cfg.NetNSDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), m.cfg.Prefix+"-") {
			t.Errorf("netns file %s left behind", e.Name())
		}
	}
	links, _ := netlink.LinkList()
	for _, l := range links {
		if n := l.Attrs().Name; m.isOurVeth(n) || n == m.cfg.Bridge {
			t.Errorf("link %s left behind", n)
		}
	}
	for _, fam := range []string{"inet", "bridge"} {
		if out, err := exec.Command("nft", "list", "table", fam, m.tableName()).CombinedOutput(); err == nil {
			t.Errorf("nft table %s %s left behind:\n%s", fam, m.tableName(), out)
		}
	}
}

// inNS runs fn on a locked OS thread that entered the netns at path; the
// thread is discarded afterwards.
func inNS(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked
		ns, err := vnetns.GetFromPath(path)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := vnetns.Set(ns); err != nil {
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// dialRead connects from the netns at nsPath ("" = host) to addr, optionally
// from local address from, and returns what the peer sends before closing.
func dialRead(nsPath string, from netip.Addr, addr netip.AddrPort) (string, error) {
	var conn net.Conn
	dial := func() (err error) {
		d := net.Dialer{Timeout: 700 * time.Millisecond}
		if from.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: from.AsSlice()}
		}
		conn, err = d.Dial("tcp4", addr.String())
		return err
	}
	var err error
	if nsPath == "" {
		err = dial()
	} else {
		err = inNS(nsPath, dial)
	}
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(conn)
	return string(b), err
}

// serve listens on addr inside the netns at nsPath ("" = host) and answers
// every connection with reply(conn), until the test ends.
func serve(t testing.TB, nsPath string, addr string, reply func(net.Conn) string) netip.AddrPort {
	t.Helper()
	var ln net.Listener
	listen := func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	}
	var err error
	if nsPath == "" {
		err = listen()
	} else {
		err = inNS(nsPath, listen)
	}
	if err != nil {
		t.Fatalf("listen on %s in %q: %v", addr, nsPath, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, reply(c))
			c.Close()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

func remoteIP(c net.Conn) string { return c.RemoteAddr().(*net.TCPAddr).IP.String() }

// ping sends one ICMP echo request from the netns at nsPath to dst and reports
// whether a reply came back within 500 ms.
func ping(nsPath string, dst netip.Addr) (bool, error) {
	var got bool
	err := inNS(nsPath, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
		if err != nil {
			return fmt.Errorf("raw socket: %w", err)
		}
		defer unix.Close(fd)
		tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		id := uint16(os.Getpid())
		msg := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'w', 'a', 'r', 'r', 'e', 'n'}
		sum := icmpChecksum(msg)
		msg[2], msg[3] = byte(sum>>8), byte(sum)
		if err := unix.Sendto(fd, msg, 0, &unix.SockaddrInet4{Addr: dst.As4()}); err != nil {
			return nil // e.g. EHOSTUNREACH: no reply
		}
		buf := make([]byte, 1500)
		for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); {
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				continue
			}
			sa, ok := from.(*unix.SockaddrInet4)
			ihl := int(buf[0]&0x0f) * 4
			if ok && sa.Addr == dst.As4() && n >= ihl+8 && buf[ihl] == 0 && buf[ihl+4] == byte(id>>8) && buf[ihl+5] == byte(id) {
				got = true
				return nil
			}
		}
		return nil
	})
	return got, err
}

func icmpChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// nsHandle opens a netlink handle inside the netns at path.
func nsHandle(t testing.TB, path string) *netlink.Handle {
	t.Helper()
	ns, err := vnetns.GetFromPath(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("netlink in %s: %v", path, err)
	}
	t.Cleanup(h.Close)
	return h
}

func mustCreate(t testing.TB, m *Manager, id string, internet bool) *Sandbox {
	t.Helper()
	sb, err := m.Create(context.Background(), id, Options{AllowInternet: internet})
	if err != nil {
		t.Fatalf("Create %s: %v", id, err)
	}
	return sb
}

// assertGone checks that no host state of sandbox id remains.
func assertGone(t testing.TB, m *Manager, id string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(m.cfg.NetNSDir, m.nsName(id))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns file of %s still exists (stat: %v)", id, err)
	}
	if l, _ := hostLink(m.vethName(id)); l != nil {
		t.Errorf("veth %s of %s still exists", m.vethName(id), id)
	}
	ports, _, err := m.listElems()
	if err != nil {
		t.Fatalf("listElems: %v", err)
	}
	if ip, ok := ports[m.vethName(id)]; ok {
		t.Errorf("ports element of %s (%v) still exists", id, ip)
	}
	if _, ok := m.Lookup(id); ok {
		t.Errorf("Lookup(%s) still finds it", id)
	}
}

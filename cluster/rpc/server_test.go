package rpc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	nodev1 "github.com/warrenhq/warren/proto/node/v1"
)

const (
	nodeA = "node-0190a1b2-0000-7000-8000-00000000000a"
	nodeB = "node-0190a1b2-0000-7000-8000-00000000000b"
)

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPingBothWays(t *testing.T) {
	key := newKey(t)
	fa, fb := newFakeNode(nodeA), newFakeNode(nodeB)
	_, addrA := startServer(t, key, nodeA, fa)
	_, addrB := startServer(t, key, nodeB, fb)
	poolA, poolB := newPool(t, key, nodeA), newPool(t, key, nodeB)

	for _, c := range []struct {
		from    *Pool
		to      string
		want    string
		handler *fakeNode
		caller  string
	}{
		{poolA, addrB, nodeB, fb, nodeA},
		{poolB, addrA, nodeA, fa, nodeB},
	} {
		cl, err := c.from.Node(c.to)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cl.Ping(callCtx(t), &nodev1.PingRequest{})
		if err != nil {
			t.Fatalf("ping %s: %v", c.to, err)
		}
		if resp.NodeId != c.want || resp.Version != "test" {
			t.Errorf("ping %s answered %v", c.to, resp)
		}
		if got := c.handler.snapshotCallers(); len(got) != 1 || got[0] != c.caller {
			t.Errorf("server %s saw callers %v, want [%s]", c.want, got, c.caller)
		}
	}
	// The pool reuses its connection.
	c1, _ := poolA.Conn(addrB)
	c2, _ := poolA.Conn(addrB)
	if c1 != c2 {
		t.Error("pool opened a second connection to the same address")
	}
}

func TestPeerNodeIDOutsideMTLS(t *testing.T) {
	if id, ok := PeerNodeID(context.Background()); ok || id != "" {
		t.Fatalf("PeerNodeID without a peer = %q, %v", id, ok)
	}
}

func TestCreateSandboxAndPlaceRoundTrip(t *testing.T) {
	key := newKey(t)
	f := newFakeNode(nodeB)
	_, addr := startServer(t, key, nodeB, f)
	cl, err := newPool(t, key, nodeA).Node(addr)
	if err != nil {
		t.Fatal(err)
	}
	req := &nodev1.CreateSandboxRequest{
		SandboxId: "sb-0190a1b2-0000-7000-8000-000000000001", TeamId: "team-0190a1b2-0000-7000-8000-000000000002",
		TemplateId: "tpl-0190a1b2-0000-7000-8000-000000000003", Vcpus: 1.5, MemoryMb: 768,
		DiskSizeMb: 20480, Env: map[string]string{"A": "1", "B": "two"}, AllowInternetAccess: true, TimeoutSec: 300,
	}
	resp, err := cl.CreateSandbox(callCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Ip != "10.88.0.7" || resp.NodeId != nodeB {
		t.Errorf("CreateSandbox answered %v", resp)
	}
	pr, err := cl.Place(callCtx(t), &nodev1.PlaceRequest{TeamId: req.TeamId, TemplateId: req.TemplateId, Vcpus: 2, MemoryMb: 1024, DiskSizeMb: 4096, IsBuild: true})
	if err != nil {
		t.Fatal(err)
	}
	if pr.NodeId != nodeB {
		t.Errorf("Place answered %v", pr)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.creates) != 1 || len(f.places) != 1 {
		t.Fatalf("handler saw %d creates, %d places", len(f.creates), len(f.places))
	}
	got := f.creates[0]
	if got.SandboxId != req.SandboxId || got.TeamId != req.TeamId || got.TemplateId != req.TemplateId ||
		got.Vcpus != 1.5 || got.MemoryMb != 768 || got.DiskSizeMb != 20480 || !got.AllowInternetAccess ||
		got.TimeoutSec != 300 || len(got.Env) != 2 || got.Env["B"] != "two" {
		t.Errorf("CreateSandbox arrived as %v", got)
	}
	if p := f.places[0]; p.DiskSizeMb != 4096 || !p.IsBuild || p.Vcpus != 2 || p.MemoryMb != 1024 || p.TemplateId != req.TemplateId {
		t.Errorf("Place arrived as %v", p)
	}
}

func TestRegisterExtraService(t *testing.T) {
	key := newKey(t)
	hs := health.NewServer()
	s, err := NewServer(ServerConfig{ClusterKey: key, NodeID: nodeB, Handler: newFakeNode(nodeB), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	healthpb.RegisterHealthServer(s, hs)
	l := listen(t)
	go s.Serve(l)
	t.Cleanup(s.Stop)
	cc, err := newPool(t, key, nodeA).Conn(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := healthpb.NewHealthClient(cc).Check(callCtx(t), &healthpb.HealthCheckRequest{})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health check: %v, %v", resp, err)
	}
	if a := s.Addr(); a == nil || a.String() != l.Addr().String() {
		t.Errorf("Addr() = %v, want %v", a, l.Addr())
	}
}

func TestStopCutsCallsAfterTimeout(t *testing.T) {
	key := newKey(t)
	f := newFakeNode(nodeA)
	f.block = make(chan struct{}) // never closed: Ping blocks until cut
	s, err := NewServer(ServerConfig{ClusterKey: key, NodeID: nodeA, Handler: f, Logger: testLogger(t), StopTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l := listen(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	cl, _ := newPool(t, key, nodeB).Node(l.Addr().String())
	pinged := make(chan error, 1)
	go func() {
		_, err := cl.Ping(callCtx(t), &nodev1.PingRequest{})
		pinged <- err
	}()
	for len(f.snapshotCallers()) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	s.Stop()
	if err := <-served; err != nil {
		t.Fatalf("Serve after Stop: %v", err)
	}
	if err := <-pinged; err == nil {
		t.Fatal("blocked call succeeded after a forced stop")
	}
	s.Stop() // a second Stop is harmless
}

func TestConfigErrors(t *testing.T) {
	key := newKey(t)
	for _, c := range []struct {
		cfg  ServerConfig
		want string
	}{
		{ServerConfig{ClusterKey: key, NodeID: nodeA}, "Handler"},
		{ServerConfig{ClusterKey: key, Handler: newFakeNode(nodeA)}, "NodeID"},
		{ServerConfig{ClusterKey: key[:8], NodeID: nodeA, Handler: newFakeNode(nodeA)}, "ClusterKey"},
		{ServerConfig{ClusterKey: key, NodeID: nodeA, Handler: newFakeNode(nodeA), StopTimeout: -1}, "StopTimeout"},
	} {
		if _, err := NewServer(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewServer: got %v, want an error naming %s", err, c.want)
		}
	}
	if _, err := NewPool(ClientConfig{ClusterKey: key}); err == nil || !strings.Contains(err.Error(), "NodeID") {
		t.Errorf("NewPool without NodeID: %v", err)
	}
	if _, err := NewPool(ClientConfig{NodeID: nodeA}); err == nil || !strings.Contains(err.Error(), "ClusterKey") {
		t.Errorf("NewPool without key: %v", err)
	}
	p := newPool(t, key, nodeA)
	if _, err := p.Node(""); err == nil || !strings.Contains(err.Error(), "addr") {
		t.Errorf("Node(\"\"): %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Node("127.0.0.1:1"); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Node after Close: %v", err)
	}
}

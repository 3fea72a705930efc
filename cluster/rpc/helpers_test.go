package rpc

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"sync"
	"testing"

	nodev1 "github.com/warrenhq/warren/proto/node/v1"
)

func newKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fakeNode is a hand-written nodev1.NodeServer that records what it is asked.
type fakeNode struct {
	nodev1.UnimplementedNodeServer
	id string

	mu      sync.Mutex
	callers []string // PeerNodeID of every Ping caller
	creates []*nodev1.CreateSandboxRequest
	places  []*nodev1.PlaceRequest
	deletes []string
	images  map[string]string // image name -> file path
	// wrap, when set, wraps the PullImage stream (to corrupt or cut it).
	wrap func(nodev1.Node_PullImageServer) nodev1.Node_PullImageServer
	// block, when set, makes Ping wait until it is closed or the call ends.
	block chan struct{}
}

func newFakeNode(id string) *fakeNode { return &fakeNode{id: id, images: map[string]string{}} }

func (f *fakeNode) Ping(ctx context.Context, _ *nodev1.PingRequest) (*nodev1.PingResponse, error) {
	caller, _ := PeerNodeID(ctx)
	f.mu.Lock()
	f.callers = append(f.callers, caller)
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &nodev1.PingResponse{NodeId: f.id, Version: "test"}, nil
}

func (f *fakeNode) CreateSandbox(_ context.Context, r *nodev1.CreateSandboxRequest) (*nodev1.CreateSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates = append(f.creates, r)
	return &nodev1.CreateSandboxResponse{Ip: "10.88.0.7", NodeId: f.id}, nil
}

func (f *fakeNode) Place(_ context.Context, r *nodev1.PlaceRequest) (*nodev1.PlaceResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.places = append(f.places, r)
	return &nodev1.PlaceResponse{NodeId: f.id}, nil
}

func (f *fakeNode) DeleteImage(_ context.Context, r *nodev1.DeleteImageRequest) (*nodev1.DeleteImageResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes = append(f.deletes, r.Name)
	_, ok := f.images[r.Name]
	delete(f.images, r.Name)
	return &nodev1.DeleteImageResponse{Deleted: ok}, nil
}

func (f *fakeNode) PullImage(r *nodev1.PullImageRequest, stream nodev1.Node_PullImageServer) error {
	f.mu.Lock()
	path, wrap := f.images[r.Name], f.wrap
	f.mu.Unlock()
	if path == "" {
		path = "/nonexistent/" + r.Name
	}
	if wrap != nil {
		stream = wrap(stream)
	}
	return SendImage(path, r.Name, stream)
}

func (f *fakeNode) snapshotCallers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.callers...)
}

// startServer serves h on a random 127.0.0.1 port until the test ends.
func startServer(t testing.TB, key []byte, nodeID string, h nodev1.NodeServer, opts ...func(*ServerConfig)) (*Server, string) {
	t.Helper()
	cfg := ServerConfig{ClusterKey: key, NodeID: nodeID, Addrs: []string{"127.0.0.1"}, Handler: h, Logger: testLogger(t)}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, l.Addr().String()
}

func newPool(t testing.TB, key []byte, nodeID string) *Pool {
	t.Helper()
	p, err := NewPool(ClientConfig{ClusterKey: key, NodeID: nodeID, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("pool close: %v", err)
		}
	})
	return p
}

func (f *fakeNode) setWrap(w func(nodev1.Node_PullImageServer) nodev1.Node_PullImageServer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wrap = w
}

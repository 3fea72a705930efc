package rpc

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	nodev1 "github.com/warrenhq/warren/proto/node/v1"
)

// wantRefused checks that a Ping through cc fails at the transport and never
// reaches the handler.
func wantRefused(t *testing.T, cc *grpc.ClientConn, f *fakeNode) {
	t.Helper()
	_, err := nodev1.NewNodeClient(cc).Ping(callCtx(t), &nodev1.PingRequest{})
	if c := status.Code(err); c != codes.Unavailable && c != codes.Unauthenticated {
		t.Fatalf("ping: got %v (code %v), want Unavailable or Unauthenticated", err, c)
	}
	t.Logf("refused as expected: %v", err)
	if got := f.snapshotCallers(); len(got) != 0 {
		t.Fatalf("handler reached by %v", got)
	}
}

func TestOtherClusterKeyRefused(t *testing.T) {
	f := newFakeNode(nodeA)
	_, addr := startServer(t, newKey(t), nodeA, f)

	// A pool with another key: it refuses the server and the server refuses it.
	p := newPool(t, newKey(t), nodeB)
	cc, err := p.Conn(addr)
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, cc, f)

	// A client with another key's certificate that skips server checks: the
	// server alone must refuse it.
	other, err := NewIdentity(newKey(t), "node-intruder", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := other.ClientTLS()
	cfg.VerifyConnection = nil
	wantRefused(t, dialTLS(t, addr, cfg), f)

	// A TLS client with no certificate at all.
	wantRefused(t, dialTLS(t, addr, &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}), f)
}

func TestServerFromOtherKeyRefusedByClient(t *testing.T) {
	// A server with another key's certificate that trusts any client: the
	// client alone must refuse it.
	other, err := NewIdentity(newKey(t), "node-impostor", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := other.ServerTLS()
	cfg.ClientAuth, cfg.VerifyConnection = tls.NoClientCert, nil
	g := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)))
	f := newFakeNode("node-impostor")
	nodev1.RegisterNodeServer(g, f)
	l := listen(t)
	go g.Serve(l)
	t.Cleanup(g.Stop)

	cl, _ := newPool(t, newKey(t), nodeB).Node(l.Addr().String())
	_, err = cl.Ping(callCtx(t), &nodev1.PingRequest{})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "not from this cluster") {
		t.Fatalf("ping a foreign server: got %v, want Unavailable naming the certificate", err)
	}
	if got := f.snapshotCallers(); len(got) != 0 {
		t.Fatalf("foreign handler reached by %v", got)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestPlaintextRefused(t *testing.T) {
	f := newFakeNode(nodeA)
	_, addr := startServer(t, newKey(t), nodeA, f)
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	wantRefused(t, cc, f)
}

func dialTLS(t *testing.T, addr string, cfg *tls.Config) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

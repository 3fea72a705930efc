package hardening_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/jackc/pgx/v5"

	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/cluster/rpc"
	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/storetest"
)

// raftProbe is a raft stream layer for an attacker: dial picks how it connects.
type raftProbe struct {
	net.Listener
	dial func(addr string, timeout time.Duration) (net.Conn, error)
}

func (p raftProbe) Dial(a raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return p.dial(string(a), timeout)
}

// raftAppend sends one AppendEntries with term in raft's wire format (a type byte
// then msgpack) through a raft NetworkTransport over dial.
func raftAppend(t *testing.T, dial func(string, time.Duration) (net.Conn, error), addr string, term uint64) (*raft.AppendEntriesResponse, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: raftProbe{Listener: ln, dial: dial}, MaxPool: 1, Timeout: 3 * time.Second,
		Logger: hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
	})
	defer tr.Close()
	req := &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("node-intruder"), Addr: []byte("127.0.0.1:1")},
		Term:      term,
	}
	var resp raft.AppendEntriesResponse
	err = tr.AppendEntries("node-x", raft.ServerAddress(addr), req, &resp)
	return &resp, err
}

func raftTLSDial(cfg *tls.Config) func(string, time.Duration) (net.Conn, error) {
	return func(addr string, timeout time.Duration) (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", addr, cfg)
	}
}

// An attacker who reaches a server's raft port cannot make it step down with a
// huge-term AppendEntries: plain TCP, TLS without a certificate and a certificate
// of another cluster's CA are all closed before raft decodes the frame. Control:
// the same frame with this cluster's certificate moves the term.
func TestEscapeRaft(t *testing.T) {
	key := cluster.GenerateKey()
	n := nodetest.Start(t, nodetest.WithCluster(key, true, 1))
	addr := n.RaftAddr()
	if addr == "" {
		t.Fatal("node has no raft address")
	}
	var term uint64
	var leader string
	if !waitFor(15*time.Second, func() bool { term, leader = n.RaftState(); return leader != "" }) {
		t.Fatal("no raft leader")
	}
	const huge = 1 << 40

	otherKey, err := cluster.ParseKey(cluster.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := rpc.NewIdentity(otherKey, "node-intruder", nil)
	if err != nil {
		t.Fatal(err)
	}
	noCert := foreign.ClientTLS()
	noCert.GetClientCertificate, noCert.VerifyConnection = nil, nil
	foreignCfg := foreign.ClientTLS()
	foreignCfg.VerifyConnection = nil
	for _, a := range []struct {
		what string
		dial func(string, time.Duration) (net.Conn, error)
	}{
		{"AppendEntries(huge term) over plain TCP", func(a string, to time.Duration) (net.Conn, error) { return net.DialTimeout("tcp", a, to) }},
		{"AppendEntries(huge term) over TLS without client cert", raftTLSDial(noCert)},
		{"AppendEntries(huge term) with a cert from another CA", raftTLSDial(foreignCfg)},
	} {
		resp, err := raftAppend(t, a.dial, addr, huge)
		time.Sleep(200 * time.Millisecond)
		got, l := n.RaftState()
		attack(t, "raft", a.what, err != nil && got == term && l == leader, "answer", resp, "err", err, "term", got, "leader", l)
		t.Logf("%s: %v (term %d, leader %s)", a.what, err, got, l)
	}

	// Positive control: a holder of the cluster key gets through and moves the term.
	mine, err := cluster.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	id, err := rpc.NewIdentity(mine, "node-probe", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raftAppend(t, raftTLSDial(id.ClientTLS()), addr, huge); err != nil {
		t.Fatalf("control: cluster cert refused: %v", err)
	}
	if got, _ := n.RaftState(); got < huge {
		t.Fatalf("control: term %d after an authenticated huge-term AppendEntries, want ≥ %d", got, uint64(huge))
	}
}

// The embedded Postgres (trust authentication) has no TCP listener: its port
// number and the default port refuse connections on loopback; the unix socket
// (control) accepts.
func TestEscapePostgresTCP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pg := storetest.Server()
	if pg == nil {
		t.Fatal("storetest started no Postgres")
	}
	c, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		t.Fatalf("control: socket connect: %v", err)
	}
	c.Close(ctx)
	ports := []int{pg.Port()}
	if pg.Port() != 5432 {
		ports = append(ports, 5432)
	}
	for _, port := range ports {
		for _, h := range []string{"127.0.0.1", "::1"} {
			a := net.JoinHostPort(h, strconv.Itoa(port))
			url := "postgres://warren@" + a + "/postgres?sslmode=disable&connect_timeout=2"
			c, err := pgx.Connect(ctx, url)
			if err == nil {
				c.Close(ctx)
			}
			attack(t, "postgres", "connect over TCP to "+a, err != nil, "connected")
			t.Logf("TCP %s: %v", a, err)
		}
	}
}

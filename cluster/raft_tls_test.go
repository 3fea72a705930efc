package cluster_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/cluster/clustertest"
	"github.com/warrenhq/warren/cluster/rpc"
)

// probeStream is a raft stream layer for a test client: dial picks how it connects.
// Raft listens behind mutual TLS with the cluster CA: plain TCP, TLS without a
// client certificate and a certificate from another CA are closed before any raft
// RPC is decoded (term and leader stay); a cluster certificate gets answers.
func TestRaftRequiresClusterCert(t *testing.T) {
	tc := clustertest.New(t)
	n := tc.Add(tc.Config(true, 1))
	tc.WaitLeader(10 * time.Second)
	addr := n.RaftAddr()
	term := n.Term()
	leader, _ := n.Leader()
	const huge = 1 << 40

	other, err := cluster.ParseKey(cluster.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := rpc.NewIdentity(other, "node-intruder", nil)
	if err != nil {
		t.Fatal(err)
	}
	noCert := foreign.ClientTLS()
	noCert.GetClientCertificate = nil
	noCert.VerifyConnection = nil // the attacker does not care who the server is
	foreignCfg := foreign.ClientTLS()
	foreignCfg.VerifyConnection = nil

	attempts := []struct {
		name string
		dial func(string, time.Duration) (net.Conn, error)
	}{
		{"plain TCP", func(a string, to time.Duration) (net.Conn, error) { return net.DialTimeout("tcp", a, to) }},
		{"TLS without client cert", clustertest.TLSDial(noCert)},
		{"cert from another CA", clustertest.TLSDial(foreignCfg)},
	}
	for _, a := range attempts {
		resp, err := clustertest.AppendEntries(clustertest.RaftProbe(t, a.dial), addr, huge)
		if err == nil {
			t.Fatalf("%s: raft answered %+v", a.name, resp)
		}
		t.Logf("%s: refused: %v", a.name, err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := n.Term(); got != term {
		t.Fatalf("term moved %d → %d after refused attempts", term, got)
	}
	if got, _ := n.Leader(); got != leader || !n.IsLeader() {
		t.Fatalf("leader changed %q → %q", leader, got)
	}

	// Control: a cluster certificate gets a raft answer (stale term: harmless).
	mine, err := rpc.NewIdentity(tc.Key, "node-probe", nil)
	if err != nil {
		t.Fatal(err)
	}
	good := clustertest.RaftProbe(t, clustertest.TLSDial(mine.ClientTLS()))
	resp, err := clustertest.AppendEntries(good, addr, 0)
	if err != nil {
		t.Fatalf("cluster cert: %v", err)
	}
	if resp.Term != term || resp.Success {
		t.Fatalf("cluster cert: answer %+v, want term %d and no success", resp, term)
	}
	// And the same frame with a huge term really moves the term: what the wall stops.
	if _, err := clustertest.AppendEntries(good, addr, huge); err != nil {
		t.Fatalf("cluster cert, huge term: %v", err)
	}
	if got := n.Term(); got < huge {
		t.Fatalf("term %d after an authenticated huge-term AppendEntries, want ≥ %d", got, uint64(huge))
	}
}

// A client that connects to raft and sends nothing is closed once the handshake
// deadline (10 s) passes, instead of holding the connection forever.
func TestRaftHandshakeDeadline(t *testing.T) {
	tc := clustertest.New(t)
	n := tc.Add(tc.Config(true, 1))
	tc.WaitLeader(10 * time.Second)
	c, err := net.DialTimeout("tcp", n.RaftAddr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := c.SetReadDeadline(start.Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = c.Read(make([]byte, 1))
	took := time.Since(start)
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("silent client: read = %v after %s, want the server to close it", err, took)
	}
	if took < 9*time.Second {
		t.Fatalf("silent client closed after %s, before the handshake deadline", took)
	}
	t.Logf("silent client closed after %s: %v", took.Round(100*time.Millisecond), err)
}

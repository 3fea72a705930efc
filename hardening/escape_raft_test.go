package hardening_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/cluster/clustertest"
	"github.com/warrenhq/warren/cluster/rpc"
	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/storetest"
)

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
		{"AppendEntries(huge term) over TLS without client cert", clustertest.TLSDial(noCert)},
		{"AppendEntries(huge term) with a cert from another CA", clustertest.TLSDial(foreignCfg)},
	} {
		resp, err := clustertest.AppendEntries(clustertest.RaftProbe(t, a.dial), addr, huge)
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
	if _, err := clustertest.AppendEntries(clustertest.RaftProbe(t, clustertest.TLSDial(id.ClientTLS())), addr, huge); err != nil {
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

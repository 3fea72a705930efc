// Package clustertest builds real in-process Warren clusters for tests, modeled on
// hashicorp/raft's MakeCluster: N nodes with real memberlist gossip and raft on
// loopback, each on its own 127.x.y.z address (so a firewall can cut links between
// them), with helpers to kill nodes, partition the network and wait for a leader.
package clustertest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenhq/warren/cluster"
)

// Cluster is a set of in-process nodes sharing one cluster key.
type Cluster struct {
	t     testing.TB
	Key   []byte
	Nodes []*Node
	Tune  func(*cluster.Config) // applied to every new node's config, if set
	mu    sync.Mutex
}

// Node is one in-process node.
type Node struct {
	*cluster.Cluster
	Config cluster.Config
	IP     string
	Down   bool // stopped by Kill or Leave
}

var ipSeq atomic.Uint32

// nextIP returns a loopback address unique within this process; the second octet
// derives from the pid so parallel test binaries rarely share addresses.
func nextIP() string {
	n := ipSeq.Add(1)
	return fmt.Sprintf("127.%d.%d.%d", 16+os.Getpid()%200, 1+n/250%250, 1+n%250)
}

// LoopbackIP returns a loopback address no other node of this process uses,
// for a node that Cut can separate from the others.
func LoopbackIP() string { return nextIP() }

// New returns an empty test cluster with a fresh key; at cleanup every node still
// running is shut down (concurrently).
func New(t testing.TB) *Cluster {
	key, err := cluster.ParseKey(cluster.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	tc := &Cluster{t: t, Key: key}
	t.Cleanup(tc.shutdownAll)
	return tc
}

func (tc *Cluster) shutdownAll() {
	tc.mu.Lock()
	nodes := tc.Nodes
	tc.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Shutdown() // idempotent; Kill and Leave already reported their errors
		}()
	}
	wg.Wait()
}

// Make starts servers servers (bootstrap-expect = servers) and clients non-server
// nodes, all joined through the first server, and waits until every node sees every
// other alive and they agree on a leader.
func Make(t testing.TB, servers, clients int, tune func(*cluster.Config)) *Cluster {
	tc := New(t)
	tc.Tune = tune
	for i := 0; i < servers; i++ {
		tc.Add(tc.Config(true, servers))
	}
	for i := 0; i < clients; i++ {
		tc.Add(tc.Config(false, 0))
	}
	tc.WaitMembers(15*time.Second, servers+clients)
	tc.WaitLeader(15 * time.Second)
	return tc
}

// Config returns a config for a new node: its own loopback IP, ports 0, a temp data
// dir, fast test timings, logs through t, joining the first node if there is one.
func (tc *Cluster) Config(server bool, expect int) cluster.Config {
	ip := nextIP()
	cfg := cluster.DefaultConfig()
	cfg.Name = fmt.Sprintf("n%d", len(tc.Nodes))
	cfg.DataDir = tc.t.TempDir()
	cfg.GossipAddr = ip + ":0"
	cfg.RaftAddr = ip + ":0"
	cfg.Server = server
	cfg.BootstrapExpect = expect
	cfg.ClusterKey = tc.Key
	cfg.HTTPAddr = ip + ":8080"
	cfg.GRPCAddr = ip + ":8081"
	cfg.Version = "test"
	cfg.Logger = Logger(tc.t, cfg.Name)
	cfg.ReconnectInterval = 500 * time.Millisecond
	cfg.DeadServerGrace = 2 * time.Second
	cfg.ReconcileInterval = 200 * time.Millisecond
	cfg.MetaRefreshInterval = 200 * time.Millisecond
	if len(tc.Nodes) > 0 {
		cfg.Join = []string{tc.Nodes[0].GossipAddr()}
	}
	if tc.Tune != nil {
		tc.Tune(&cfg)
	}
	return cfg
}

// Add opens a node with cfg and registers its shutdown at cleanup.
func (tc *Cluster) Add(cfg cluster.Config) *Node {
	tc.t.Helper()
	c, err := cluster.Open(context.Background(), cfg)
	if err != nil {
		tc.t.Fatalf("open node %s: %v", cfg.Name, err)
	}
	n := &Node{Cluster: c, Config: cfg}
	n.IP, _, _ = splitHost(cfg.GossipAddr)
	tc.mu.Lock()
	tc.Nodes = append(tc.Nodes, n)
	tc.mu.Unlock()
	return n
}

// Kill stops n abruptly, without leaving (peers must detect the failure).
func (tc *Cluster) Kill(n *Node) {
	n.Down = true
	if err := n.Shutdown(); err != nil {
		tc.t.Errorf("kill %s: %v", n.Config.Name, err)
	}
}

// Leave stops n gracefully.
func (tc *Cluster) Leave(n *Node) {
	n.Down = true
	if err := n.Close(); err != nil {
		tc.t.Errorf("leave %s: %v", n.Config.Name, err)
	}
}

// Up returns the nodes not stopped.
func (tc *Cluster) Up() []*Node {
	var out []*Node
	for _, n := range tc.Nodes {
		if !n.Down {
			out = append(out, n)
		}
	}
	return out
}

// Servers returns the running servers.
func (tc *Cluster) Servers() []*Node {
	var out []*Node
	for _, n := range tc.Up() {
		if n.Config.Server {
			out = append(out, n)
		}
	}
	return out
}

// ByID returns the node with the given ID.
func (tc *Cluster) ByID(id string) *Node {
	for _, n := range tc.Nodes {
		if n.ID() == id {
			return n
		}
	}
	return nil
}

// Eventually polls cond every 20 ms until it returns "" or timeout passes, then
// fails the test with the last reason.
func (tc *Cluster) Eventually(timeout time.Duration, cond func() string) {
	tc.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			tc.t.Fatalf("after %s: %s", timeout, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitMembers waits until each of nodes (default: every running node) sees n members alive.
func (tc *Cluster) WaitMembers(timeout time.Duration, n int, nodes ...*Node) {
	tc.t.Helper()
	if len(nodes) == 0 {
		nodes = tc.Up()
	}
	tc.Eventually(timeout, func() string {
		for _, node := range nodes {
			if a := CountStatus(node.Members(), cluster.StatusAlive); a != n {
				return fmt.Sprintf("%s sees %d alive members, want %d", node.Config.Name, a, n)
			}
		}
		return ""
	})
}

// WaitLeader waits until every node in nodes (default: every running node) reports
// the same leader, which is one of nodes and has established leadership, and
// returns it.
func (tc *Cluster) WaitLeader(timeout time.Duration, nodes ...*Node) *Node {
	tc.t.Helper()
	if len(nodes) == 0 {
		nodes = tc.Up()
	}
	var leader *Node
	tc.Eventually(timeout, func() string {
		want := ""
		for _, n := range nodes {
			id, ok := n.Leader()
			if !ok {
				return fmt.Sprintf("%s knows no leader", n.Config.Name)
			}
			if want != "" && id != want {
				return fmt.Sprintf("%s sees leader %s, others %s", n.Config.Name, id, want)
			}
			want = id
		}
		leader = nil
		for _, n := range nodes {
			if n.ID() == want {
				leader = n
			}
		}
		if leader == nil || leader.Down || !leader.IsLeader() {
			return fmt.Sprintf("leader %s has not established leadership", want)
		}
		return ""
	})
	return leader
}

// CountStatus counts members with status st.
func CountStatus(ms []cluster.Member, st cluster.Status) int {
	n := 0
	for _, m := range ms {
		if m.Status == st {
			n++
		}
	}
	return n
}

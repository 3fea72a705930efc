package node_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/cluster/clustertest"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/node"
	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/storetest"
)

// onIP binds the node's gossip, raft and node-to-node gRPC to ip, so a
// firewall can cut it off from the others (its API stays on 127.0.0.1).
func onIP(ip string) nodetest.Option {
	return func(c *node.Config) {
		c.Cluster.GossipAddr, c.Cluster.RaftAddr, c.Cluster.GRPCAddr = ip+":0", ip+":0", ip+":0"
	}
}

// createWhenRoom creates a small sandbox through a, retrying while the
// scheduler answers 429 (a node just started has not gossiped its capacity
// yet), and kills it at the end of the test if it is still live.
func createWhenRoom(t *testing.T, a *api) sandboxJSON {
	t.Helper()
	var r resp
	within(t, 30*time.Second, "room for a sandbox", func() string {
		var err error
		if r, err = a.try("POST", "/v1/sandboxes", map[string]any{"template": "base", "memory_mb": 64, "disk_size_mb": 1024}); err != nil {
			t.Fatal(err)
		}
		if r.status == http.StatusTooManyRequests {
			return r.String()
		}
		return ""
	})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %s", r)
	}
	var sb sandboxJSON
	r.decode(t, &sb)
	t.Cleanup(func() {
		if cur, err := a.try("GET", "/v1/sandboxes/"+sb.ID, nil); err == nil && strings.Contains(string(cur.body), `"status":"running"`) {
			if k, err := a.try("DELETE", "/v1/sandboxes/"+sb.ID, nil); err != nil || k.status != 200 {
				t.Errorf("cleanup: killing %s: %v %s", sb.ID, err, k)
			}
		}
	})
	return sb
}

// TestFencingDeposesAPartitionedLeader runs three servers over one database,
// each on its own loopback address. The leader is cut off from the other two
// (nftables drops gossip and raft between them); the majority elects a new
// leader, which raises the fence in Postgres to its term. The old leader's
// dispatcher and reconciler rounds, sent late with the term it led in (as a
// leader paused between reading its term and writing would send them), are
// refused by the fence and change no row: a queued build stays queued, the
// majority's sandbox, which the old leader sees on a dead node, stays running.
// The new leader's writes go through: it records the old leader's sandbox
// lost and claims the build. The same reconciler round from the old leader
// with the term now in office does write, so the refusal was the fence's.
func TestFencingDeposesAPartitionedLeader(t *testing.T) {
	dbURL := storetest.NewDatabase(t)
	key := cluster.GenerateKey()
	var servers []*nodetest.Node
	ipOf := map[*nodetest.Node]string{}
	for i := range 3 {
		ip := clustertest.LoopbackIP()
		opts := []nodetest.Option{nodetest.WithDatabase(dbURL), onIP(ip)}
		if i == 0 {
			opts = append(opts, nodetest.WithCluster(key, true, 3))
		} else {
			opts = append(opts, nodetest.WithCluster(key, true, 3, servers[0].GossipAddr()))
		}
		n := nodetest.Start(t, opts...)
		servers, ipOf[n] = append(servers, n), ip
	}
	admin := servers[0].APIKey
	apiOf := func(n *nodetest.Node) *api { return &api{url: n.URL, key: admin} }
	st := servers[0].Store()
	ctx := t.Context()
	fence := func() uint64 {
		f, err := st.GetFence(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return uint64(f)
	}
	// statuses is how n's gossip sees every member.
	statuses := func(n *nodetest.Node) map[string]string {
		var v nodesJSON
		r := apiOf(n).do(t, "GET", "/v1/admin/nodes", nil)
		if r.status != 200 {
			t.Fatalf("nodes on %s: %s", n.ID, r)
		}
		r.decode(t, &v)
		out := map[string]string{}
		for _, m := range v.Nodes {
			out[m.ID] = m.Status
		}
		return out
	}

	// One leader, in office: the fence holds its term.
	var old *nodetest.Node
	var oldTerm uint64
	within(t, time.Minute, "one leader of 3 servers with its term on the fence", func() string {
		term, leader := servers[0].RaftState()
		for _, n := range servers {
			if tm, l := n.RaftState(); l == "" || l != leader || tm != term {
				return fmt.Sprintf("%s sees leader %q in term %d, %s sees %q in %d", n.ID, l, tm, servers[0].ID, leader, term)
			}
			if n.ID.String() == leader {
				old = n
			}
		}
		if old == nil {
			return "the leader " + leader + " is none of the servers"
		}
		if f := fence(); f != term {
			return fmt.Sprintf("the fence is at %d, the leader's term is %d", f, term)
		}
		oldTerm = term
		return ""
	})
	var majority []*nodetest.Node
	for _, n := range servers {
		if n != old {
			majority = append(majority, n)
		}
	}
	t.Logf("leader %s in term %d; the fence is at %d", old.ID, oldTerm, fence())
	drain := func(n *nodetest.Node, on bool) {
		t.Helper()
		path := "/v1/admin/nodes/" + n.ID.String() + map[bool]string{true: "/drain", false: "/undrain"}[on]
		if r := apiOf(n).do(t, "POST", path, nil); r.status != 200 {
			t.Fatalf("%s: %s", path, r)
		}
	}
	// A sandbox on the leader and one on the majority's side.
	for _, n := range majority {
		drain(n, true)
	}
	sbOld := createWhenRoom(t, apiOf(old))
	drain(old, true)
	for _, n := range majority {
		drain(n, false)
	}
	sbMaj := createWhenRoom(t, apiOf(majority[0]))
	if sbOld.NodeID != old.ID.String() || sbMaj.NodeID == old.ID.String() {
		t.Fatalf("placed on %s and %s, want the leader %s and another node", sbOld.NodeID, sbMaj.NodeID, old.ID)
	}
	// Builds may go to the old leader only: the majority's nodes drain.
	drain(old, false)
	for _, n := range majority {
		drain(n, true)
	}

	// The cut.
	fw := clustertest.Cut(t, []string{ipOf[old]}, []string{ipOf[majority[0]], ipOf[majority[1]]})
	cut := time.Now()
	var leader *nodetest.Node
	var newTerm uint64
	within(t, time.Minute, "a new leader on the majority's side, in office", func() string {
		term, l := majority[0].RaftState()
		if t2, l2 := majority[1].RaftState(); l == "" || l2 != l || t2 != term || l == old.ID.String() {
			return fmt.Sprintf("the majority sees leaders %q (term %d) and %q (term %d)", l, term, l2, t2)
		}
		if f := fence(); f != term || term <= oldTerm {
			return fmt.Sprintf("the fence is at %d, the new leader's term is %d", f, term)
		}
		for _, n := range majority {
			if n.ID.String() == l {
				leader = n
			}
		}
		newTerm = term
		return ""
	})
	t.Logf("%s leads in term %d %s after the cut; the fence is at %d", leader.ID, newTerm, time.Since(cut).Round(time.Millisecond), fence())
	// The new leader's reconciler records the old leader's sandbox lost: its
	// fenced write goes through.
	apiOf(leader).waitStatus(t, sbOld.ID, "lost", time.Minute)
	t.Logf("the new leader recorded the old leader's sandbox lost %s after the cut", time.Since(cut).Round(time.Millisecond))

	// A build queued now: no majority node may take it, the old leader may.
	bc := newBClient(leader)
	bc.key = admin
	bld := bc.submit(t, map[string]any{"name": "fenced", "disk_size_mb": 1024, "recipe": []string{"true"}})
	bid, err := id.ParseBuildID(bld.ID)
	if err != nil {
		t.Fatal(err)
	}
	within(t, time.Minute, "the old leader seeing the majority dead", func() string {
		seen := statuses(old)
		for _, n := range majority {
			if seen[n.ID.String()] != "dead" {
				return fmt.Sprintf("the old leader sees %s %q", n.ID, seen[n.ID.String()])
			}
		}
		return ""
	})

	// The old leader's late rounds, with the term it led in, are refused.
	refused := func(what string, err error) {
		t.Helper()
		var fe *store.FenceError
		if !errors.Is(err, store.ErrFenced) || !errors.As(err, &fe) || fe.Term != oldTerm || fe.Fence != newTerm {
			t.Fatalf("the deposed leader's %s: %v, want refused by the fence (term %d, fence %d)", what, err, oldTerm, newTerm)
		}
		t.Logf("the deposed leader's %s: %v", what, err)
	}
	refused("claim", old.DispatchOnce(ctx, oldTerm))
	refused("reconcile", old.ReconcileDead(ctx, oldTerm))
	row, err := st.GetBuild(ctx, bid)
	if err != nil || row.Status != "queued" || row.NodeID != nil || row.LeaderTerm != 0 {
		t.Fatalf("after the stale claim the build is %s on %v with term %d (%v), want queued, untouched", row.Status, row.NodeID, row.LeaderTerm, err)
	}
	if sb := apiOf(leader).get(t, sbMaj.ID); sb.Status != "running" {
		t.Fatalf("after the stale reconcile the majority's sandbox is %s (%s), want running", sb.Status, sb.Error)
	}
	if out := apiOf(leader).sh(t, sbMaj.ID, "echo still"); out != "still\n" {
		t.Fatalf("exec in the majority's sandbox after the stale reconcile: %q", out)
	}

	// The new leader claims the build once a node of its side may take it.
	for _, n := range majority {
		drain(n, false)
	}
	within(t, time.Minute, "the new leader claiming the build", func() string {
		row, err = st.GetBuild(ctx, bid)
		if err != nil {
			return err.Error()
		}
		if row.Status == "queued" {
			return "still queued"
		}
		if row.LeaderTerm != int64(newTerm) || row.NodeID == nil || *row.NodeID == old.ID.UUID() {
			t.Fatalf("the build was claimed by term %d for node %v, want term %d for a majority node", row.LeaderTerm, row.NodeID, newTerm)
		}
		return ""
	})
	bc.finish(t, bld.ID, "succeeded", 2*time.Minute)
	t.Logf("the new leader's claim: build %s claimed in term %d for node %s, and it succeeded", bld.ID, row.LeaderTerm, row.NodeID)

	// Control: the old leader's very reconciler round, with the term in office,
	// writes (it sees the majority's nodes dead): the fence alone refused it.
	if err := old.ReconcileDead(ctx, newTerm); err != nil {
		t.Fatalf("the reconciler round with the term in office: %v", err)
	}
	if sb := apiOf(leader).get(t, sbMaj.ID); sb.Status != "lost" {
		t.Fatalf("the reconciler round with the term in office left the sandbox %s", sb.Status)
	}

	// The heal: one leader again, in office.
	if err := fw.Heal(); err != nil {
		t.Fatal(err)
	}
	within(t, time.Minute, "one leader after the heal, its term on the fence", func() string {
		term, l := servers[0].RaftState()
		for _, n := range servers {
			if tm, l2 := n.RaftState(); l2 == "" || l2 != l || tm != term {
				return fmt.Sprintf("%s sees leader %q in term %d", n.ID, l2, tm)
			}
		}
		if f := fence(); f != term {
			return fmt.Sprintf("the fence is at %d, the leader's term is %d", f, term)
		}
		return ""
	})
	if r := apiOf(old).do(t, "POST", "/v1/sandboxes", map[string]any{"template": "base", "memory_mb": 64, "disk_size_mb": 1024}); r.status != http.StatusCreated {
		t.Fatalf("create through the old leader after the heal: %s", r)
	} else {
		var sb sandboxJSON
		r.decode(t, &sb)
		apiOf(old).do(t, "DELETE", "/v1/sandboxes/"+sb.ID, nil)
	}
}

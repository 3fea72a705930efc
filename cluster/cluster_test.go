package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/cluster/clustertest"
)

// taskLog records which node runs the leader task, and in which term.
type taskLog struct {
	mu      sync.Mutex
	running map[string]uint64 // node → term
	starts  int
}

func (l *taskLog) register(n *clustertest.Node) {
	id := n.ID()
	n.RegisterLeaderTask("probe", func(ctx context.Context, term uint64) {
		l.mu.Lock()
		l.running[id] = term
		l.starts++
		l.mu.Unlock()
		<-ctx.Done()
		l.mu.Lock()
		delete(l.running, id)
		l.mu.Unlock()
	})
}

func (l *taskLog) only(id string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.running[id]; len(l.running) != 1 || !ok {
		return fmt.Sprintf("leader task runs on %v, want only %s", l.running, id)
	}
	return ""
}

// 3 servers and 2 clients form a cluster; then the leader is killed, then a client.
func TestClusterFailover(t *testing.T) {
	var capMu sync.Mutex
	freeMem := uint64(4096)
	tc := clustertest.Make(t, 3, 2, func(c *cluster.Config) {
		c.Capacity = func() cluster.Capacity {
			capMu.Lock()
			defer capMu.Unlock()
			return cluster.Capacity{FreeMilliCPU: 2000, FreeMemoryMB: freeMem, FreeDiskBytes: 1 << 30, MaxSandboxes: 20}
		}
	})
	leader := tc.WaitLeader(5 * time.Second)
	tasks := &taskLog{running: map[string]uint64{}}
	for _, n := range tc.Servers() {
		tasks.register(n) // leader registers while leading: starts at once
	}
	tc.Eventually(5*time.Second, func() string { return tasks.only(leader.ID()) })

	// Every node sees all 5, with roles and meta.
	for _, n := range tc.Up() {
		ms := n.Members()
		servers := 0
		for _, m := range ms {
			if m.Meta.ID != m.ID || m.Meta.HTTPAddr == "" || m.Meta.Capacity.MaxSandboxes != 20 {
				t.Errorf("%s sees bad meta for %s: %+v", n.Config.Name, m.ID, m.Meta)
			}
			if m.Meta.Role == cluster.RoleServer {
				servers++
			}
		}
		if len(ms) != 5 || servers != 3 {
			t.Errorf("%s sees %d members, %d servers; want 5, 3", n.Config.Name, len(ms), servers)
		}
	}

	// FSM: leader only; replicated to every server.
	follower := tc.Servers()[0]
	if follower == leader {
		follower = tc.Servers()[1]
	}
	client, victim := tc.Nodes[4], tc.Nodes[3] // the two non-servers
	ctx := context.Background()
	cmd := cluster.Command{Op: cluster.OpSetDrain, NodeID: client.ID(), Drain: true}
	if err := follower.Apply(ctx, cmd); !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("Apply on follower = %v, want ErrNotLeader", err)
	}
	if err := client.Apply(ctx, cmd); !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("Apply on client = %v, want ErrNotLeader", err)
	}
	if _, err := client.State(); !errors.Is(err, cluster.ErrNotServer) {
		t.Fatalf("State on client = %v, want ErrNotServer", err)
	}
	if err := leader.Apply(ctx, cmd); err != nil {
		t.Fatalf("Apply on leader: %v", err)
	}
	if err := leader.Apply(ctx, cluster.Command{Op: cluster.OpSetDrain}); !errors.Is(err, cluster.ErrInvalid) {
		t.Fatalf("Apply invalid = %v, want ErrInvalid", err)
	}
	term1, err := leader.VerifyLeader(ctx)
	if err != nil || term1 == 0 {
		t.Fatalf("VerifyLeader = %d, %v", term1, err)
	}
	if _, err := follower.VerifyLeader(ctx); !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("VerifyLeader on follower = %v", err)
	}
	tc.Eventually(5*time.Second, func() string {
		for _, s := range tc.Servers() {
			st, _ := s.State()
			if len(st.Draining) != 1 || st.Draining[0] != client.ID() || st.Epoch != term1 {
				return fmt.Sprintf("%s state %+v", s.Config.Name, st)
			}
		}
		return ""
	})

	// Meta changes propagate: capacity and the drain flag.
	events, unsub := follower.Subscribe()
	defer unsub()
	capMu.Lock()
	freeMem = 1024
	capMu.Unlock()
	client.SetDrain(true)
	tc.Eventually(5*time.Second, func() string {
		for _, n := range tc.Up() {
			m, _ := n.Member(client.ID())
			if !m.Meta.Drain || m.Meta.Capacity.FreeMemoryMB != 1024 {
				return fmt.Sprintf("%s sees %s meta %+v", n.Config.Name, client.ID(), m.Meta)
			}
		}
		return ""
	})
	waitEvent(t, events, cluster.EventUpdate, client.ID())

	// Kill the leader: a new leader within seconds, tasks move.
	killed := time.Now()
	tc.Kill(leader)
	newLeader := tc.WaitLeader(10 * time.Second)
	failover := time.Since(killed)
	t.Logf("leader failover: %s (old %s, new %s)", failover.Round(time.Millisecond), leader.Config.Name, newLeader.Config.Name)
	tc.Eventually(5*time.Second, func() string { return tasks.only(newLeader.ID()) })
	tasks.mu.Lock()
	term2 := tasks.running[newLeader.ID()]
	tasks.mu.Unlock()
	if term2 <= term1 {
		t.Fatalf("new leader's term %d not above old %d", term2, term1)
	}
	if got := client.Term(); got < term2 {
		t.Errorf("client sees term %d, want ≥ %d", got, term2)
	}
	if err := newLeader.Apply(ctx, cluster.Command{Op: cluster.OpSetDrain, NodeID: client.ID()}); err != nil {
		t.Fatalf("Apply on new leader: %v", err)
	}

	// The dead server is removed from raft after DeadServerGrace.
	tc.Eventually(15*time.Second, func() string {
		srvs, err := newLeader.RaftServers()
		if err != nil || len(srvs) != 2 {
			return fmt.Sprintf("raft servers %v, %v; want 2", srvs, err)
		}
		return ""
	})

	// Kill a client: everyone declares it dead.
	killed = time.Now()
	tc.Kill(victim)
	waitEvent(t, events, cluster.EventFail, victim.ID())
	tc.Eventually(15*time.Second, func() string {
		for _, n := range tc.Up() {
			if m, _ := n.Member(victim.ID()); m.Status != cluster.StatusDead {
				return fmt.Sprintf("%s sees %s %s", n.Config.Name, victim.Config.Name, m.Status)
			}
		}
		return ""
	})
	t.Logf("dead client detected by every node: %s", time.Since(killed).Round(time.Millisecond))

	// A graceful leave shows as left.
	tc.Leave(client)
	tc.Eventually(5*time.Second, func() string {
		if m, _ := newLeader.Member(client.ID()); m.Status != cluster.StatusLeft {
			return fmt.Sprintf("leader sees %s %s, want left", client.Config.Name, m.Status)
		}
		return ""
	})
}

func waitEvent(t *testing.T, ch <-chan cluster.Event, typ cluster.EventType, id string) {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("event channel closed waiting for %s of %s", typ, id)
			}
			if e.Type == typ && e.Member.ID == id {
				return
			}
		case <-timeout:
			t.Fatalf("no %s event for %s", typ, id)
		}
	}
}

func TestWrongKeyCannotJoin(t *testing.T) {
	tc := clustertest.Make(t, 1, 1, nil)
	cfg := tc.Config(false, 0)
	cfg.ClusterKey, _ = cluster.ParseKey(cluster.GenerateKey())
	cfg.JoinTimeout = time.Second
	c, err := cluster.Open(context.Background(), cfg)
	if err == nil {
		c.Shutdown()
		t.Fatal("a node with another key joined")
	}
	if !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("Open = %v, want ErrUnavailable", err)
	}
	t.Logf("refused: %v", err)
	time.Sleep(500 * time.Millisecond)
	for _, n := range tc.Up() {
		if _, ok := n.Member(cfg.NodeID); ok || len(n.Members()) != 2 {
			t.Fatalf("%s lists the intruder or the wrong members: %+v", n.Config.Name, n.Members())
		}
	}
}

// One server bootstraps itself (warren dev).
func TestSingleServer(t *testing.T) {
	tc := clustertest.New(t)
	n := tc.Add(tc.Config(true, 1))
	tc.WaitLeader(10 * time.Second)
	if id, ok := n.Leader(); !ok || id != n.ID() {
		t.Fatalf("Leader = %q, %v", id, ok)
	}
}

package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/cluster/clustertest"
)

// A real network partition (nftables drops between the nodes' loopback addresses):
// the side holding the old leader is a minority and must stop leading; the majority
// elects a leader; after the heal everyone converges on one leader.
func TestPartition(t *testing.T) {
	tc := clustertest.Make(t, 3, 2, func(c *cluster.Config) {
		c.DeadServerGrace = time.Minute // keep raft membership intact across the cut
	})
	leader := tc.WaitLeader(5 * time.Second)
	var minority, majority []*clustertest.Node
	minority = append(minority, leader)
	for _, n := range tc.Nodes {
		switch {
		case n == leader:
		case !n.Config.Server && len(minority) < 2:
			minority = append(minority, n)
		default:
			majority = append(majority, n)
		}
	}
	stopped := make(chan struct{})
	leader.RegisterLeaderTask("probe", func(ctx context.Context, term uint64) {
		<-ctx.Done()
		close(stopped)
	})

	cut := time.Now()
	fw := tc.Partition(minority, majority)
	newLeader := tc.WaitLeader(10*time.Second, majority...)
	t.Logf("majority elected %s in %s", newLeader.Config.Name, time.Since(cut).Round(time.Millisecond))
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("old leader's task still runs on the minority side")
	}
	if leader.IsLeader() {
		t.Fatal("minority leader still claims leadership")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := leader.Apply(ctx, cluster.Command{Op: cluster.OpSetDrain, NodeID: leader.ID()}); err == nil {
		t.Fatal("minority accepted a write")
	}
	if err := newLeader.Apply(ctx, cluster.Command{Op: cluster.OpSetDrain, NodeID: leader.ID(), Drain: true}); err != nil {
		t.Fatalf("majority write: %v", err)
	}
	tc.WaitMembers(15*time.Second, len(majority), majority...)

	if err := fw.Heal(); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	tc.WaitMembers(20*time.Second, 5)
	final := tc.WaitLeader(10 * time.Second)
	t.Logf("healed: all 5 alive, leader %s, after %s", final.Config.Name, time.Since(healed).Round(time.Millisecond))
	tc.Eventually(5*time.Second, func() string {
		st, err := leader.State()
		if err != nil || len(st.Draining) != 1 {
			return fmt.Sprintf("old leader's FSM %+v, %v: the majority's write did not reach it", st, err)
		}
		return ""
	})
	if _, err := leader.VerifyLeader(ctx); leader != final && !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("old leader VerifyLeader = %v", err)
	}
}

// A node leaves while one member is cut off from it (nftables drops everything
// between them) and so hears neither its Leaving meta nor its leave. After the
// heal that member learns the departure second hand, by push/pull from the others,
// and must report it as left, not as a failure.
func TestLeaveReachesCutOffMember(t *testing.T) {
	tc := clustertest.Make(t, 1, 2, nil)
	deaf, witness, leaver := tc.Nodes[0], tc.Nodes[1], tc.Nodes[2]
	events, unsub := deaf.Subscribe()
	defer unsub()

	fw := tc.Partition([]*clustertest.Node{deaf}, []*clustertest.Node{witness, leaver})
	tc.Leave(leaver)
	tc.Eventually(5*time.Second, func() string {
		if m, _ := witness.Member(leaver.ID()); m.Status != cluster.StatusLeft {
			return fmt.Sprintf("witness sees leaver %s, want left", m.Status)
		}
		return ""
	})
	if err := fw.Heal(); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	tc.Eventually(15*time.Second, func() string {
		if m, _ := deaf.Member(leaver.ID()); m.Status != cluster.StatusLeft {
			return fmt.Sprintf("cut-off member sees leaver %s, want left", m.Status)
		}
		return ""
	})
	t.Logf("cut-off member saw the leave %s after the heal", time.Since(healed).Round(time.Millisecond))
	waitEvent(t, events, cluster.EventLeave, leaver.ID())
	tc.WaitMembers(15*time.Second, 2)
}

package cluster_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/cluster/clustertest"
)

// startGossipMembers opens n non-server members on 127.0.0.1, each joining the
// first, and returns them with the time from the first Open until every member sees
// n alive members.
func startGossipMembers(tb testing.TB, n int) time.Duration {
	tc := clustertest.New(tb)
	nodes := make([]*clustertest.Node, 0, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		cfg := tc.Config(false, 0)
		cfg.GossipAddr = "127.0.0.1:0"
		cfg.MetaRefreshInterval = time.Second
		cfg.ReconnectInterval = 2 * time.Second
		cfg.Logger = nil // 100 nodes' logs would drown the output
		nodes = append(nodes, tc.Add(cfg))
	}
	opened := time.Since(start)
	tb.Logf("opened %d members in %s", n, opened.Round(time.Millisecond))
	tc.Eventually(60*time.Second, func() string {
		for _, node := range nodes {
			ms := node.Members()
			if a := clustertest.CountStatus(ms, cluster.StatusAlive); a != n {
				var odd []string
				for _, m := range ms {
					if m.Status != cluster.StatusAlive {
						odd = append(odd, m.Meta.Name+":"+string(m.Status))
					}
				}
				return fmt.Sprintf("%s sees %d of %d alive, want %d; others %v", node.Config.Name, a, len(ms), n, odd)
			}
		}
		return ""
	})
	took := time.Since(start)
	tb.Logf("%d gossip members: all opened after %s, converged after %s", n, opened.Round(time.Millisecond), took.Round(time.Millisecond))
	return took
}

// TestScale100 checks that 100 in-process gossip members converge and logs the time
// (target ≤ 5 s on the 2-core reference machine; see BenchmarkConverge100). Under
// the race detector 100 members overload two cores, so it runs 25 and says so.
func TestScale100(t *testing.T) {
	n := 100
	if raceEnabled {
		n = 25
		t.Logf("race detector on: simulating %d members instead of 100", n)
	}
	startGossipMembers(t, n)
}

func BenchmarkConverge100(b *testing.B) {
	for i := 0; i < b.N; i++ {
		d := startGossipMembers(b, 100)
		b.ReportMetric(d.Seconds(), "s/converge")
	}
}

package node_test

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkExecThroughPeer measures an exec round trip (REST, `true` in the
// sandbox) on the node that runs the sandbox and through another node, which
// relays it to the owner over node-to-node gRPC; the difference is the cost of
// the extra hop. Run:
//
//	go test -run '^$' -bench ExecThroughPeer -benchtime 200x ./node/
func BenchmarkExecThroughPeer(b *testing.B) {
	entry, owner, a := ownerPair(b)
	sb := a.create(b, nil)
	if sb.NodeID != owner.ID.String() {
		b.Fatalf("placed on %s, want %s", sb.NodeID, owner.ID)
	}
	for _, via := range []struct {
		name string
		api  *api
	}{{"on-owner", &api{url: owner.URL, key: entry.APIKey}}, {"through-peer", a}} {
		b.Run(via.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				s := time.Now()
				via.api.exec(b, sb.ID, "true", 10)
				lat = append(lat, time.Since(s))
			}
			slices.Sort(lat)
			p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
			b.ReportMetric(float64(p(0.5).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p(0.99).Microseconds())/1000, "p99-ms")
			b.Logf("%s: exec round trip over %d calls: p50 %s, p99 %s", via.name, len(lat), p(0.5), p(0.99))
		})
	}
}

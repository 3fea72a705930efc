package node_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
)

// BenchmarkBuildOverhead measures what an image-only build costs beyond its
// steps' own time: (finished_at - created_at) - sum(elapsed_ms), i.e. queueing,
// the build sandbox's create and destroy, flatten + shrink + checksum and the
// template rows. Target: median ≤ 2 s. Run:
//
//	go test -run '^$' -bench BuildOverhead -benchtime 5x ./node/
func BenchmarkBuildOverhead(b *testing.B) {
	n := nodetest.Start(b)
	c := newBClient(n)
	for _, disk := range []int{0, 1024} {
		name := "disk=default"
		if disk > 0 {
			name = fmt.Sprintf("disk=%dMB", disk)
		}
		b.Run(name, func(b *testing.B) {
			var overheads, totals []time.Duration
			for i := 0; b.Loop(); i++ {
				req := map[string]any{"name": fmt.Sprintf("ovh-%d-%d", disk, i), "recipe": []string{
					"mkdir -p /opt/x && echo a > /opt/x/a", "echo b > /opt/x/b", "sleep 0.2"}}
				if disk > 0 {
					req["disk_size_mb"] = disk
				}
				bl := c.submit(b, req)
				bl = c.finish(b, bl.ID, "succeeded", 2*time.Minute)
				var steps time.Duration
				for _, l := range bl.Logs {
					steps += time.Duration(*l.ElapsedMS) * time.Millisecond
				}
				total := bl.FinishedAt.Sub(bl.CreatedAt)
				overheads = append(overheads, total-steps)
				totals = append(totals, total)
			}
			slices.Sort(overheads)
			slices.Sort(totals)
			med := overheads[len(overheads)/2]
			b.ReportMetric(float64(med.Milliseconds()), "overhead-ms/build")
			b.ReportMetric(float64(totals[len(totals)/2].Milliseconds()), "total-ms/build")
			b.Logf("%s: build overhead over %d runs: median %s, min %s, max %s (target ≤ 2s)",
				name, len(overheads), med, overheads[0], overheads[len(overheads)-1])
		})
	}
}

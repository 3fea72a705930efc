package bench_test

import (
	"context"
	"os"
	"testing"

	"github.com/warrenhq/warren/bench"
	"github.com/warrenhq/warren/node/nodetest"
)

// BenchmarkPool runs the pool scenario once against a real node (make
// bench): 20 creates claimed from a warm pool of 20, then 20 cold creates of
// the same class, each the POST round trip through the REST API. It prints
// the table and fails unless every warm create claimed.
func BenchmarkPool(b *testing.B) {
	n := nodetest.Start(b)
	cfg := bench.DefaultConfig()
	cfg.URL, cfg.APIKey, cfg.N = n.URL, n.APIKey, 20
	for range b.N {
		r, err := bench.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		res, err := r.Run(context.Background(), []bench.Scenario{bench.ScenarioPool})
		if err != nil {
			b.Fatal(err)
		}
		_ = bench.WriteTable(os.Stdout, res)
		if p := res.Pool; p.Claimed != cfg.N || p.Claim.Count != cfg.N || p.Cold.Count != cfg.N {
			b.Fatalf("pool: %+v", p)
		}
		b.ReportMetric(res.Pool.Claim.P50MS, "claim-p50-ms")
		b.ReportMetric(res.Pool.Claim.P99MS, "claim-p99-ms")
		b.ReportMetric(res.Pool.Cold.P50MS, "cold-p50-ms")
	}
}

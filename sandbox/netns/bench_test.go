package netns

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkCreateDestroy measures one sandbox network's Create (netns, veth,
// address, route, firewall elements) plus Destroy; create-ms and destroy-ms
// report the two halves.
func BenchmarkCreateDestroy(b *testing.B) {
	cfg, _ := testConfig(b)
	cfg.Logger = slog.New(slog.DiscardHandler)
	m := newTestManager(b, cfg)
	ctx := context.Background()
	var create, destroy time.Duration
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("sb-bench%d", i)
		i++
		t0 := time.Now()
		if _, err := m.Create(ctx, id, Options{AllowInternet: true}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := m.Destroy(ctx, id); err != nil {
			b.Fatal(err)
		}
		create += t1.Sub(t0)
		destroy += time.Since(t1)
	}
	b.ReportMetric(float64(create.Microseconds())/1000/float64(i), "create-ms")
	b.ReportMetric(float64(destroy.Microseconds())/1000/float64(i), "destroy-ms")
}

// BenchmarkCreateWith100 measures Create while 100 other sandbox networks
// exist (bridge ports and set elements grow), destroying each after.
func BenchmarkCreateWith100(b *testing.B) {
	cfg, _ := testConfig(b)
	cfg.Logger = slog.New(slog.DiscardHandler)
	m := newTestManager(b, cfg)
	ctx := context.Background()
	for i := range 100 {
		if _, err := m.Create(ctx, fmt.Sprintf("sb-bg%d", i), Options{AllowInternet: i%2 == 0}); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("sb-bench%d", i)
		i++
		if _, err := m.Create(ctx, id, Options{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := m.Destroy(ctx, id); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

package agent

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// reportPercentiles adds p50/p90/p99 (in ms) of d to the benchmark output.
func reportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		return float64(d[min(len(d)-1, int(q*float64(len(d))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.90), "p90-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// BenchmarkExecTrue: one Exec round trip of `true` over the unix socket
// (fork+exec, reaping, streaming the exit).
func BenchmarkExecTrue(b *testing.B) {
	a := startAgent(b)
	ctx := context.Background()
	var d []time.Duration
	for b.Loop() {
		start := time.Now()
		res, err := a.Exec(ctx, ExecOptions{Argv: []string{"/bin/true"}}, nil, nil)
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("true: %+v, %v", res, err)
		}
		d = append(d, time.Since(start))
	}
	reportPercentiles(b, d)
}

// BenchmarkHealth: a unary round trip.
func BenchmarkHealth(b *testing.B) {
	a := startAgent(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := a.Health(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStartToHealthy: from Run to the first healthy answer through a
// client dialled before the socket exists, as the node does for a new
// sandbox (the in-sandbox part of create→exec-ready).
func BenchmarkStartToHealthy(b *testing.B) {
	root := b.TempDir()
	dir := b.TempDir()
	log := slog.New(slog.DiscardHandler)
	var d []time.Duration
	i := 0
	for b.Loop() {
		i++
		sock := filepath.Join(dir, "a"+strconv.Itoa(i)+".sock")
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		c, err := Dial(ctx, sock)
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- Run(ctx, Config{SocketPath: sock, Root: root, Logger: log.With("i", i)}) }()
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		err = c.WaitHealthy(wctx)
		wcancel()
		d = append(d, time.Since(start))
		c.Close()
		cancel()
		if rerr := <-done; err != nil || rerr != nil {
			b.Fatalf("healthy: %v; run: %v", err, rerr)
		}
	}
	reportPercentiles(b, d)
}

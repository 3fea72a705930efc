package node_test

import (
	"slices"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
)

// BenchmarkEnvdExec measures `true` run as commands.run does (envd Start,
// /bin/bash -l -c falling back to /bin/sh on busybox, the stream read to
// its end) against Warren's POST /v1/sandboxes/{id}/exec, interleaved, on
// one real node. It reports both p50s and the envd layer's difference.
//
//	go test -run '^$' -bench EnvdExec -benchtime 200x ./node/
func BenchmarkEnvdExec(b *testing.B) {
	n := nodetest.Start(b)
	a := newAPI(n)
	sb := a.create(b, nil)
	c := newEnvd(n, sb.ID, envdToken(b, n, sb.ID), "root")
	c.headers.Del("Keepalive-Ping-Interval")
	var viaEnvd, viaAPI []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if out := c.run(b, shCmd("true")); out.end.GetExitCode() != 0 {
			b.Fatalf("envd: %+v", out)
		}
		viaEnvd = append(viaEnvd, time.Since(t0))
		t0 = time.Now()
		if r := a.exec(b, sb.ID, "true", 0); r.ExitCode != 0 {
			b.Fatalf("api: %+v", r)
		}
		viaAPI = append(viaAPI, time.Since(t0))
	}
	b.StopTimer()
	p50 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Microseconds()) / 1000
	}
	e, w := p50(viaEnvd), p50(viaAPI)
	b.ReportMetric(e, "envd-p50-ms")
	b.ReportMetric(w, "warren-p50-ms")
	b.ReportMetric(e-w, "envd-extra-ms")
}

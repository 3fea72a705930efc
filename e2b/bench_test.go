package e2b_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkSDKCreate measures Sandbox.create as the pinned SDK sees it
// through the E2B layer against POST /v1/sandboxes from the same Node
// process, interleaved, on one real node; it reports both p50s and the
// layer's overhead in percent (ns/op is the whole round of both).
//
//	go test -run '^$' -bench SDKCreate -benchtime 20x ./e2b/
func BenchmarkSDKCreate(b *testing.B) {
	sdk := installSDK(b)
	n, key := mustNode(b)
	script, _ := filepath.Abs("testdata/sdk/bench.mjs")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	b.ResetTimer()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Env = append(os.Environ(), "E2B_SDK_DIR="+sdk, "E2B_API_URL="+n.URL, "E2B_SANDBOX_URL="+n.URL,
		"E2B_API_KEY="+key, "WARREN_URL="+n.URL, "BENCH_N="+strconv.Itoa(b.N))
	out, err := cmd.CombinedOutput()
	b.StopTimer()
	if err != nil {
		b.Fatalf("bench.mjs: %v\n%s", err, out)
	}
	var r struct{ E2B, Warren struct{ P50, P90 float64 } }
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil {
		b.Fatalf("bench.mjs printed %q: %v", out, err)
	}
	b.ReportMetric(r.E2B.P50, "e2b-p50-ms")
	b.ReportMetric(r.Warren.P50, "warren-p50-ms")
	b.ReportMetric(r.E2B.P90, "e2b-p90-ms")
	b.ReportMetric(r.Warren.P90, "warren-p90-ms")
	b.ReportMetric(100*(r.E2B.P50-r.Warren.P50)/r.Warren.P50, "overhead-%")
}

// BenchmarkCreate measures create through the E2B layer (POST /v2/sandboxes)
// and through Warren's API (POST /v1/sandboxes) over Go's HTTP client,
// alternating which goes first, on one real node: the layer's own cost,
// without the SDK. It reports both p50s and the overhead in percent.
//
//	go test -run '^$' -bench '^BenchmarkCreate$' -benchtime 30x ./e2b/
func BenchmarkCreate(b *testing.B) {
	n, key := mustNode(b)
	hdr := map[string]string{"X-API-KEY": key}
	var viaE2B, viaWarren []time.Duration
	e2bCreate := func() {
		t0 := time.Now()
		var sb struct{ SandboxID string }
		if st := call(b, "POST", n.URL+"/v2/sandboxes", hdr, map[string]any{"templateID": "base", "timeout": 120}, &sb); st != 201 {
			b.Fatalf("e2b create: %d", st)
		}
		viaE2B = append(viaE2B, time.Since(t0))
		call(b, "DELETE", n.URL+"/sandboxes/"+sb.SandboxID, hdr, nil, nil)
	}
	warrenCreate := func() {
		t0 := time.Now()
		var w struct{ ID string }
		if st := call(b, "POST", n.URL+"/v1/sandboxes", hdr, map[string]any{"template": "base", "timeout_sec": 120}, &w); st != 201 {
			b.Fatalf("warren create: %d", st)
		}
		viaWarren = append(viaWarren, time.Since(t0))
		call(b, "DELETE", n.URL+"/v1/sandboxes/"+w.ID, hdr, nil, nil)
	}
	e2bCreate() // warm both paths, unmeasured
	warrenCreate()
	viaE2B, viaWarren = nil, nil
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			e2bCreate()
			warrenCreate()
		} else {
			warrenCreate()
			e2bCreate()
		}
	}
	b.StopTimer()
	e, w := p50(viaE2B), p50(viaWarren)
	b.ReportMetric(float64(e.Microseconds())/1000, "e2b-p50-ms")
	b.ReportMetric(float64(w.Microseconds())/1000, "warren-p50-ms")
	b.ReportMetric(100*float64(e-w)/float64(w), "overhead-%")
}

func p50(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

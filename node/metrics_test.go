package node_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/warrenhq/warren/node"
	"github.com/warrenhq/warren/node/nodetest"
)

type sampleJSON struct {
	Time             time.Time `json:"time"`
	CPUPercent       float64   `json:"cpu_percent"`
	VCPUs            float64   `json:"vcpus"`
	MemoryUsedBytes  int64     `json:"memory_used_bytes"`
	MemoryLimitBytes int64     `json:"memory_limit_bytes"`
	DiskUsedBytes    int64     `json:"disk_used_bytes"`
	DiskSizeBytes    int64     `json:"disk_size_bytes"`
	NetRxBytes       uint64    `json:"net_rx_bytes"`
	NetTxBytes       uint64    `json:"net_tx_bytes"`
}

type sbMetricsJSON struct {
	SandboxID   string       `json:"sandbox_id"`
	NodeID      string       `json:"node_id"`
	IntervalSec float64      `json:"interval_sec"`
	Current     *sampleJSON  `json:"current"`
	Series      []sampleJSON `json:"series"`
}

func (a *api) metrics(t testing.TB, sb, query string) sbMetricsJSON {
	t.Helper()
	r := a.do(t, "GET", "/v1/sandboxes/"+sb+"/metrics"+query, nil)
	if r.status != 200 {
		t.Fatalf("metrics of %s: %s", sb, r)
	}
	var m sbMetricsJSON
	r.decode(t, &m)
	return m
}

// waitSample polls a sandbox's metrics until its current sample satisfies
// ok (a sample newer than after), and returns it.
func (a *api) waitSample(t *testing.T, sb string, after time.Time, d time.Duration, what string, ok func(sampleJSON) bool) sampleJSON {
	t.Helper()
	var last sampleJSON
	within(t, d, what, func() string {
		m := a.metrics(t, sb, "")
		if m.Current == nil {
			return "no sample yet"
		}
		last = *m.Current
		if !last.Time.After(after) || !ok(last) {
			return fmt.Sprintf("current %+v", last)
		}
		return ""
	})
	return last
}

func withMetrics(interval, history time.Duration) nodetest.Option {
	return func(c *node.Config) { c.Metrics.Interval, c.Metrics.History = interval, history }
}

// TestSandboxMetrics samples a real sandbox: a CPU burner on 1 vCPU shows
// near its limit, memory rises with a 48 MB tmpfs file, disk used with a
// 64 MB file, the network counters with a 2 MB download through the ports
// proxy; the history stays within its bound; /metrics parses as Prometheus
// text with the expected families; bad input and other teams are refused.
func TestSandboxMetrics(t *testing.T) {
	n := nodetest.Start(t, withMetrics(500*time.Millisecond, 4*time.Second)) // at most 8 samples
	a := newAPI(n)
	sb := a.create(t, map[string]any{"vcpus": 1, "memory_mb": 256})

	first := a.waitSample(t, sb.ID, time.Time{}, 30*time.Second, "a first sample", func(sampleJSON) bool { return true })
	if first.MemoryLimitBytes != 256<<20 || first.VCPUs != 1 || first.DiskSizeBytes < 900<<20 || first.DiskSizeBytes > 1024<<20 {
		t.Fatalf("first sample: %+v (want the 256 MiB, 1 vCPU and 1 GiB disk limits)", first)
	}
	t.Logf("idle: %+v", first)

	t.Run("cpu burner", func(t *testing.T) {
		a.sh(t, sb.ID, "sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 & echo $! >/tmp/burner.pid")
		defer a.sh(t, sb.ID, "kill $(cat /tmp/burner.pid)")
		s := a.waitSample(t, sb.ID, time.Now(), 60*time.Second, "CPU near the 1 vCPU limit", func(s sampleJSON) bool { return s.CPUPercent > 50 })
		t.Logf("burning: cpu %.1f%% of %g vCPU", s.CPUPercent, s.VCPUs)
		if s.CPUPercent > 150 {
			t.Fatalf("cpu %.1f%% of a 1 vCPU quota", s.CPUPercent)
		}
	})
	t.Run("memory", func(t *testing.T) {
		before := a.metrics(t, sb.ID, "").Current
		a.sh(t, sb.ID, "dd if=/dev/zero of=/dev/shm/fill bs=1M count=48 2>/dev/null")
		s := a.waitSample(t, sb.ID, before.Time, 30*time.Second, "memory up by 40 MB", func(s sampleJSON) bool {
			return s.MemoryUsedBytes >= before.MemoryUsedBytes+40<<20
		})
		t.Logf("memory %d -> %d bytes", before.MemoryUsedBytes, s.MemoryUsedBytes)
		a.sh(t, sb.ID, "rm /dev/shm/fill")
	})
	t.Run("disk", func(t *testing.T) {
		before := a.metrics(t, sb.ID, "").Current
		a.sh(t, sb.ID, "dd if=/dev/zero of=/blob bs=1M count=64 2>/dev/null")
		s := a.waitSample(t, sb.ID, before.Time, 30*time.Second, "disk used up by 60 MB", func(s sampleJSON) bool {
			return s.DiskUsedBytes >= before.DiskUsedBytes+60<<20
		})
		t.Logf("disk used %d -> %d bytes of %d", before.DiskUsedBytes, s.DiskUsedBytes, s.DiskSizeBytes)
	})
	t.Run("network", func(t *testing.T) {
		a.sh(t, sb.ID, "mkdir -p /www && dd if=/dev/zero of=/www/big bs=1M count=2 2>/dev/null && (busybox httpd -f -p 8080 -h /www >/dev/null 2>&1 &)")
		before := a.metrics(t, sb.ID, "").Current
		within(t, 10*time.Second, "a 2 MB download through the ports proxy", func() string {
			r := a.do(t, "GET", "/v1/sandboxes/"+sb.ID+"/ports/8080/big", nil)
			if r.status != 200 || len(r.body) != 2<<20 {
				return r.String()[:min(80, len(r.String()))]
			}
			return ""
		})
		s := a.waitSample(t, sb.ID, before.Time, 30*time.Second, "sent bytes up by 2 MB", func(s sampleJSON) bool {
			return s.NetTxBytes >= before.NetTxBytes+2<<20 && s.NetRxBytes > before.NetRxBytes
		})
		t.Logf("net rx %d -> %d, tx %d -> %d", before.NetRxBytes, s.NetRxBytes, before.NetTxBytes, s.NetTxBytes)
	})
	t.Run("history bounded", func(t *testing.T) {
		// 4 s of history at 0.5 s: the ring fills to 8 samples and stays
		// there, the oldest dropped as new ones come.
		var full sbMetricsJSON
		within(t, 20*time.Second, "8 samples kept", func() string {
			full = a.metrics(t, sb.ID, "")
			if len(full.Series) != 8 {
				return fmt.Sprintf("%d samples", len(full.Series))
			}
			return ""
		})
		a.waitSample(t, sb.ID, full.Current.Time, 10*time.Second, "a newer sample", func(sampleJSON) bool { return true })
		m := a.metrics(t, sb.ID, "")
		if len(m.Series) != 8 || m.IntervalSec != 0.5 || !m.Series[0].Time.After(full.Series[0].Time) {
			t.Fatalf("series of %d samples at %gs from %s (before: from %s), want 8, the oldest dropped",
				len(m.Series), m.IntervalSec, m.Series[0].Time, full.Series[0].Time)
		}
		for i := 1; i < len(m.Series); i++ {
			if !m.Series[i].Time.After(m.Series[i-1].Time) {
				t.Fatalf("series not in time order at %d", i)
			}
		}
		if !m.Current.Time.Equal(m.Series[len(m.Series)-1].Time) {
			t.Fatalf("current %s is not the newest sample %s", m.Current.Time, m.Series[len(m.Series)-1].Time)
		}
		cut := m.Series[len(m.Series)-3].Time
		later := a.metrics(t, sb.ID, "?since="+url.QueryEscape(cut.Format(time.RFC3339Nano)))
		if len(later.Series) < 2 || later.Current == nil {
			t.Fatalf("since=%s: %d samples, current %v", cut, len(later.Series), later.Current)
		}
		for _, s := range later.Series {
			if !s.Time.After(cut) {
				t.Fatalf("since=%s answered a sample of %s", cut, s.Time)
			}
		}
	})
	t.Run("prometheus", func(t *testing.T) { checkPrometheus(t, a, sb.ID) })
	t.Run("node summary", func(t *testing.T) {
		var v struct {
			NodeID   string `json:"node_id"`
			Capacity struct {
				VCPUsTotal float64 `json:"vcpus_total"`
			} `json:"capacity"`
			Sandboxes struct {
				Sampled         int   `json:"sampled"`
				MemoryUsedBytes int64 `json:"memory_used_bytes"`
			} `json:"sandboxes"`
		}
		r := a.do(t, "GET", "/v1/admin/nodes/"+n.ID.String()+"/metrics", nil)
		r.decode(t, &v)
		if r.status != 200 || v.NodeID != n.ID.String() || v.Capacity.VCPUsTotal < 1 || v.Sandboxes.Sampled != 1 || v.Sandboxes.MemoryUsedBytes <= 0 {
			t.Fatalf("node metrics: %s", r)
		}
		if r := a.do(t, "GET", "/v1/admin/nodes/node-00000000-0000-7000-8000-000000000000/metrics", nil); r.status != 404 {
			t.Fatalf("an unknown node: %s", r)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		r := a.do(t, "GET", "/v1/sandboxes/"+sb.ID+"/metrics?since=yesterday", nil)
		if r.status != 400 || r.apiErr(t).Error.Field != "since" {
			t.Fatalf("a bad since: %s", r)
		}
		other := a.teamKey(t, "metricsother")
		if r := a.do(t, "GET", "/v1/sandboxes/"+sb.ID+"/metrics", nil, other); r.status != 404 {
			t.Fatalf("another team's sandbox: %s", r)
		}
		if r := a.do(t, "GET", "/v1/admin/nodes/"+n.ID.String()+"/metrics", nil, other); r.status != 403 {
			t.Fatalf("node metrics with a team key: %s", r)
		}
		if r := a.do(t, "GET", "/metrics", nil, other); r.status != 403 {
			t.Fatalf("/metrics with a team key: %s", r)
		}
		if r := a.do(t, "GET", "/metrics", nil, ""); r.status != 401 {
			t.Fatalf("/metrics without a key: %s", r)
		}
		if r := a.do(t, "GET", "/v1/sandboxes/sb-nope/metrics", nil); r.status != 400 {
			t.Fatalf("a malformed id: %s", r)
		}
	})
	t.Run("paused", func(t *testing.T) {
		if r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/pause", nil); r.status != 200 {
			t.Fatalf("pause: %s", r)
		}
		// A frozen sandbox is still sampled: its CPU drops to nothing.
		s := a.waitSample(t, sb.ID, time.Now(), 20*time.Second, "a sample while paused", func(s sampleJSON) bool { return s.CPUPercent < 1 })
		if s.MemoryLimitBytes != 256<<20 {
			t.Fatalf("paused sample: %+v", s)
		}
		if r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/resume", nil); r.status != 200 {
			t.Fatalf("resume: %s", r)
		}
	})
	t.Run("ended", func(t *testing.T) {
		if r := a.do(t, "DELETE", "/v1/sandboxes/"+sb.ID, nil); r.status != 200 {
			t.Fatalf("kill: %s", r)
		}
		if r := a.do(t, "GET", "/v1/sandboxes/"+sb.ID+"/metrics", nil); r.status != 409 {
			t.Fatalf("metrics of a killed sandbox: %s", r)
		}
		// Its history is dropped with it: /metrics no longer shows it.
		within(t, 10*time.Second, "the killed sandbox gone from /metrics", func() string {
			if fams := scrape(t, a); hasSandbox(fams["warren_sandbox_memory_used_bytes"], sb.ID) {
				return "still there"
			}
			return ""
		})
	})
}

func scrape(t testing.TB, a *api) map[string]*dto.MetricFamily {
	t.Helper()
	r := a.do(t, "GET", "/metrics", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", r.status, r.header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("/metrics does not parse as Prometheus text: %v", err)
	}
	return fams
}

func hasSandbox(mf *dto.MetricFamily, sb string) bool {
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "sandbox" && l.GetValue() == sb {
				return true
			}
		}
	}
	return false
}

func labelled(mf *dto.MetricFamily, name, value string) *dto.Metric {
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == name && l.GetValue() == value {
				return m
			}
		}
	}
	return nil
}

func checkPrometheus(t *testing.T, a *api, sb string) {
	fams := scrape(t, a)
	for _, name := range []string{"warren_sandbox_cpu_percent", "warren_sandbox_cpu_cores", "warren_sandbox_memory_used_bytes",
		"warren_sandbox_memory_limit_bytes", "warren_sandbox_disk_used_bytes", "warren_sandbox_disk_size_bytes",
		"warren_sandbox_network_receive_bytes", "warren_sandbox_network_transmit_bytes"} {
		mf := fams[name]
		m := labelled(mf, "sandbox", sb)
		if m == nil || mf.GetType() != dto.MetricType_GAUGE {
			t.Fatalf("%s: no gauge for %s in %v", name, sb, mf)
		}
		if labelled(mf, "team", "") != nil {
			t.Errorf("%s has a sample without its team label", name)
		}
	}
	if m := labelled(fams["warren_sandbox_memory_limit_bytes"], "sandbox", sb); m.GetGauge().GetValue() != 256<<20 {
		t.Errorf("memory limit gauge %v", m)
	}
	if m := labelled(fams["warren_sandboxes"], "state", "running"); m == nil || m.GetGauge().GetValue() < 1 {
		t.Errorf("warren_sandboxes{state=running}: %v", fams["warren_sandboxes"])
	}
	if m := labelled(fams["warren_sandbox_creates_total"], "result", "ok"); m == nil || m.GetCounter().GetValue() < 1 {
		t.Errorf("warren_sandbox_creates_total{result=ok}: %v", fams["warren_sandbox_creates_total"])
	}
	if h := fams["warren_sandbox_create_seconds"]; h.GetType() != dto.MetricType_HISTOGRAM || h.GetMetric()[0].GetHistogram().GetSampleCount() < 1 {
		t.Errorf("create latency histogram: %v", h)
	}
	for _, st := range []string{"queued", "running", "succeeded", "failed", "cancelled"} {
		if labelled(fams["warren_builds"], "state", st) == nil {
			t.Errorf("warren_builds has no state %q", st)
		}
	}
	if m := labelled(fams["warren_node_vcpus"], "kind", "total"); m == nil || m.GetGauge().GetValue() < 1 {
		t.Errorf("warren_node_vcpus{kind=total}: %v", fams["warren_node_vcpus"])
	}
	if fams["warren_node_scrape_error"].GetMetric()[0].GetGauge().GetValue() != 0 {
		t.Errorf("the scrape could not read the node's figures")
	}
	if fams["go_goroutines"] == nil || fams["process_resident_memory_bytes"] == nil {
		t.Errorf("no Go runtime or process collector")
	}
}

// TestSandboxMetricsAcrossNodes reads a sandbox's metrics and its node's
// summary through a node that does not run it (the owner answers over
// node-to-node gRPC).
func TestSandboxMetricsAcrossNodes(t *testing.T) {
	entry, owner, a := ownerPair(t)
	sb := a.create(t, map[string]any{"memory_mb": 128})
	if sb.NodeID != owner.ID.String() {
		t.Fatalf("placed on %s, want %s", sb.NodeID, owner.ID)
	}
	// The default interval (5 s): the first sample comes within two of them.
	s := a.waitSample(t, sb.ID, time.Time{}, 30*time.Second, "a sample through the entry node", func(sampleJSON) bool { return true })
	m := a.metrics(t, sb.ID, "")
	if m.NodeID != owner.ID.String() || m.IntervalSec != 5 || len(m.Series) == 0 || s.MemoryLimitBytes != 128<<20 {
		t.Fatalf("metrics through %s: %+v", entry.ID, m)
	}
	r := a.do(t, "GET", "/v1/sandboxes/"+sb.ID+"/metrics?since="+url.QueryEscape(m.Current.Time.Format(time.RFC3339Nano)), nil)
	var since sbMetricsJSON
	r.decode(t, &since)
	if r.status != 200 || since.Current == nil || len(since.Series) != 0 && !since.Series[0].Time.After(m.Current.Time) {
		t.Fatalf("since through the entry node: %s", r)
	}
	var v struct {
		NodeID    string `json:"node_id"`
		Sandboxes struct {
			Sampled int `json:"sampled"`
		} `json:"sandboxes"`
	}
	r = a.do(t, "GET", "/v1/admin/nodes/"+owner.ID.String()+"/metrics", nil)
	r.decode(t, &v)
	if r.status != 200 || v.NodeID != owner.ID.String() || v.Sandboxes.Sampled != 1 {
		t.Fatalf("owner's summary through the entry node: %s", r)
	}
	other := a.teamKey(t, "metricsremote")
	if r := a.do(t, "GET", "/v1/sandboxes/"+sb.ID+"/metrics", nil, other); r.status != http.StatusNotFound {
		t.Fatalf("another team through the entry node: %s", r)
	}
}

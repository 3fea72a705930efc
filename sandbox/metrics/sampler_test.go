package metrics

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// fakeSource is a settable list of targets.
type fakeSource struct {
	mu sync.Mutex
	ts []Target
}

func (f *fakeSource) Targets() []Target {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Target(nil), f.ts...)
}

func (f *fakeSource) set(ts ...Target) {
	f.mu.Lock()
	f.ts = ts
	f.mu.Unlock()
}

// fakeClock advances by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// v1Tree lays out a cgroup v1 root with a joined cpu,cpuacct hierarchy and a
// memory one, holding cgroup path for a sandbox with 1.5 vCPUs and 256 MiB.
func v1Tree(t *testing.T, path string) string {
	root := t.TempDir()
	for _, h := range []string{"cpu,cpuacct", "memory"} {
		write(t, filepath.Join(root, h, "cgroup.procs"), "")
	}
	cg := filepath.Join(root, "cpu,cpuacct", path)
	write(t, filepath.Join(cg, "cpuacct.usage"), "1000000000\n")
	write(t, filepath.Join(cg, "cpu.cfs_quota_us"), "150000\n")
	write(t, filepath.Join(cg, "cpu.cfs_period_us"), "100000\n")
	mem := filepath.Join(root, "memory", path)
	write(t, filepath.Join(mem, "memory.usage_in_bytes"), "104857600\n")
	write(t, filepath.Join(mem, "memory.limit_in_bytes"), "268435456\n")
	write(t, filepath.Join(mem, "memory.stat"), "cache 100\ninactive_file 5\ntotal_inactive_file 4857600\n")
	return root
}

func netTree(t *testing.T, veth string, hostRx, hostTx uint64) string {
	root := t.TempDir()
	setNet(t, root, veth, hostRx, hostTx)
	return root
}

func setNet(t *testing.T, root, veth string, hostRx, hostTx uint64) {
	write(t, filepath.Join(root, veth, "statistics", "rx_bytes"), strconv.FormatUint(hostRx, 10)+"\n")
	write(t, filepath.Join(root, veth, "statistics", "tx_bytes"), strconv.FormatUint(hostTx, 10)+"\n")
}

func newTestSampler(t *testing.T, cgRoot, netRoot string, src Source, history time.Duration) (*Sampler, *fakeClock) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Interval, cfg.History, cfg.CgroupRoot, cfg.NetRoot = time.Second, history, cgRoot, netRoot
	s, err := New(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s.now = clk.now
	return s, clk
}

func TestSamplerCgroupV1(t *testing.T) {
	const path = "/warren-w1/sb-a"
	cg := v1Tree(t, path)
	nr := netTree(t, "w1-veth", 1000, 5000)
	rootfs := t.TempDir()
	src := &fakeSource{}
	src.set(Target{ID: "sb-a", Team: "team-x", CgroupPath: path, HostVeth: "w1-veth", Rootfs: rootfs})
	s, clk := newTestSampler(t, cg, nr, src, time.Hour)

	s.SampleNow()
	if got, ok := s.Series("sb-a", time.Time{}); !ok || len(got) != 0 {
		t.Fatalf("after the first reading: %v %v, want a known sandbox with no sample yet", got, ok)
	}
	// 2 s later the cgroup used 2.25 s of CPU: 1.125 cores of 1.5 = 75 %.
	clk.t = clk.t.Add(2 * time.Second)
	write(t, filepath.Join(cg, "cpu,cpuacct", path, "cpuacct.usage"), "3250000000\n")
	s.SampleNow()
	got, ok := s.Series("sb-a", time.Time{})
	if !ok || len(got) != 1 {
		t.Fatalf("series: %v %v", got, ok)
	}
	g := got[0]
	if math.Abs(g.CPUPercent-75) > 1e-9 || g.VCPUs != 1.5 || math.Abs(g.CPUCores()-1.125) > 1e-9 {
		t.Fatalf("cpu: %+v", g)
	}
	if g.MemoryUsedBytes != 100_000_000 || g.MemoryLimitBytes != 256<<20 {
		t.Fatalf("memory: used %d limit %d, want usage less total_inactive_file", g.MemoryUsedBytes, g.MemoryLimitBytes)
	}
	// The host end sent 5000 bytes: the sandbox received them.
	if g.NetRxBytes != 5000 || g.NetTxBytes != 1000 {
		t.Fatalf("net: %+v", g)
	}
	if g.DiskSizeBytes <= 0 || g.DiskUsedBytes < 0 || g.DiskUsedBytes > g.DiskSizeBytes {
		t.Fatalf("disk: %+v", g)
	}
	if !g.Time.Equal(clk.t) {
		t.Fatalf("time %s, want %s", g.Time, clk.t)
	}
	// since excludes samples at or before it.
	if got, _ := s.Series("sb-a", clk.t); len(got) != 0 {
		t.Fatalf("since the newest sample: %v", got)
	}
	if got, _ := s.Series("sb-a", clk.t.Add(-time.Millisecond)); len(got) != 1 {
		t.Fatalf("since just before it: %v", got)
	}
}

func TestSamplerCgroupV2(t *testing.T) {
	const path = "/warren-w2/sb-b"
	root := t.TempDir()
	write(t, filepath.Join(root, "cgroup.controllers"), "cpu memory pids\n")
	cg := filepath.Join(root, path)
	write(t, filepath.Join(cg, "cpu.stat"), "usage_usec 500000\nuser_usec 400000\n")
	write(t, filepath.Join(cg, "cpu.max"), "50000 100000\n")
	write(t, filepath.Join(cg, "memory.current"), "2000000\n")
	write(t, filepath.Join(cg, "memory.max"), "max\n")
	write(t, filepath.Join(cg, "memory.stat"), "anon 1000\ninactive_file 1000000\n")
	src := &fakeSource{}
	src.set(Target{ID: "sb-b", CgroupPath: path})
	s, clk := newTestSampler(t, root, t.TempDir(), src, time.Hour)
	s.SampleNow()
	clk.t = clk.t.Add(time.Second)
	write(t, filepath.Join(cg, "cpu.stat"), "usage_usec 750000\n") // 0.25 s of 0.5 CPU: 50 %
	s.SampleNow()
	got, _ := s.Series("sb-b", time.Time{})
	if len(got) != 1 {
		t.Fatalf("series: %v", got)
	}
	if g := got[0]; math.Abs(g.CPUPercent-50) > 1e-9 || g.VCPUs != 0.5 || g.MemoryUsedBytes != 1000000 || g.MemoryLimitBytes != 0 {
		t.Fatalf("sample: %+v", g)
	}
}

// TestSamplerHistory keeps History/Interval samples per sandbox, oldest
// dropped first, and forgets a sandbox once the source stops listing it.
func TestSamplerHistory(t *testing.T) {
	const path = "/warren-w1/sb-a"
	cg := v1Tree(t, path)
	src := &fakeSource{}
	a := Target{ID: "sb-a", CgroupPath: path}
	missing := Target{ID: "sb-creating", CgroupPath: "/warren-w1/sb-creating"} // no cgroup yet
	src.set(a, missing)
	s, clk := newTestSampler(t, cg, t.TempDir(), src, 3*time.Second)
	for range 10 {
		clk.t = clk.t.Add(time.Second)
		s.SampleNow()
	}
	got, ok := s.Series("sb-a", time.Time{})
	if !ok || len(got) != 3 {
		t.Fatalf("history: %d samples, want 3", len(got))
	}
	if !got[2].Time.Equal(clk.t) || !got[0].Time.Equal(clk.t.Add(-2*time.Second)) {
		t.Fatalf("kept %s..%s, want the newest three ending %s", got[0].Time, got[2].Time, clk.t)
	}
	if _, ok := s.Series("sb-creating", time.Time{}); ok {
		t.Fatal("a sandbox without a cgroup has a series")
	}
	if cur := s.Currents(); len(cur) != 1 || cur[0].ID != "sb-a" || !cur[0].Time.Equal(clk.t) {
		t.Fatalf("currents: %+v", cur)
	}
	src.set()
	s.SampleNow()
	if _, ok := s.Series("sb-a", time.Time{}); ok {
		t.Fatal("the history of an ended sandbox is kept")
	}
	if cur := s.Currents(); len(cur) != 0 {
		t.Fatalf("currents after the end: %+v", cur)
	}
}

func TestConfigValidate(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"interval too short": func(c *Config) { c.Interval = time.Millisecond },
		"history too short":  func(c *Config) { c.History = time.Second },
		"too many samples":   func(c *Config) { c.Interval, c.History = 100*time.Millisecond, 24*time.Hour },
		"no cgroup root":     func(c *Config) { c.CgroupRoot = "" },
	} {
		c := DefaultConfig()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted %+v", name, c)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := New(func() Config { c := DefaultConfig(); c.CgroupRoot = t.TempDir(); return c }(), &fakeSource{}); err == nil ||
		!strings.Contains(err.Error(), "cgroup") {
		t.Fatalf("an empty cgroup root: %v", err)
	}
}

func TestCollectorText(t *testing.T) {
	const path = "/warren-w1/sb-a"
	cg := v1Tree(t, path)
	src := &fakeSource{}
	src.set(Target{ID: "sb-a", Team: "team-x", CgroupPath: path, HostVeth: "v", Rootfs: t.TempDir()})
	s, clk := newTestSampler(t, cg, netTree(t, "v", 1, 2), src, time.Hour)
	s.SampleNow()
	clk.t = clk.t.Add(time.Second)
	s.SampleNow()
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			t.Fatal(err)
		}
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatal(err)
	}
	mf := parsed["warren_sandbox_memory_limit_bytes"]
	if mf == nil || len(mf.Metric) != 1 || mf.Metric[0].GetGauge().GetValue() != 256<<20 {
		t.Fatalf("memory limit family: %v", mf)
	}
	labels := map[string]string{}
	for _, l := range mf.Metric[0].Label {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["sandbox"] != "sb-a" || labels["team"] != "team-x" {
		t.Fatalf("labels: %v", labels)
	}
	for _, name := range []string{"warren_sandbox_cpu_percent", "warren_sandbox_disk_used_bytes", "warren_sandbox_network_receive_bytes"} {
		if parsed[name] == nil {
			t.Errorf("no %s in %v", name, parsed)
		}
	}
}

package node

import (
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/sandbox/metrics"
)

func TestMetricsConfigValidate(t *testing.T) {
	for name, c := range map[string]struct {
		interval, history time.Duration
		flag              string
	}{
		"interval too short": {time.Millisecond, time.Hour, "--metrics-interval"},
		"interval too long":  {2 * time.Hour, 3 * time.Hour, "--metrics-interval"},
		"history too short":  {5 * time.Second, time.Second, "--metrics-history"},
		"too many samples":   {100 * time.Millisecond, 7 * 24 * time.Hour, "--metrics-history"},
	} {
		cfg := DefaultConfig()
		cfg.Dev, cfg.DataDir = true, t.TempDir()
		cfg.Metrics.Interval, cfg.Metrics.History = c.interval, c.history
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%s: Validate = %v, want an error naming %s", name, err, c.flag)
		}
	}
	cfg := DefaultConfig()
	cfg.Dev, cfg.DataDir = true, t.TempDir()
	if err := cfg.Validate(); err != nil || cfg.Metrics.Interval != 5*time.Second || cfg.Metrics.History != time.Hour || cfg.Metrics.Public {
		t.Fatalf("defaults: %+v, %v", cfg.Metrics, err)
	}
}

// TestMetricsSampleProto carries every field of a sample through the node
// RPC's message and back.
func TestMetricsSampleProto(t *testing.T) {
	s := metrics.Sample{Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), CPUPercent: 12.5, VCPUs: 1.5,
		MemoryUsedBytes: 1, MemoryLimitBytes: 2, DiskUsedBytes: 3, DiskSizeBytes: 4, NetRxBytes: 5, NetTxBytes: 6}
	if got := fromProtoSample(toProtoSample(s)); got != s {
		t.Fatalf("round trip: %+v, want %+v", got, s)
	}
}

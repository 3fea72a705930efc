package bench

import (
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	msd := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted on purpose
	}
	for _, tc := range []struct {
		name                          string
		in                            []time.Duration
		min, p50, p90, p99, max, mean float64
	}{
		{"empty", nil, 0, 0, 0, 0, 0, 0},
		{"one", msd(7), 7, 7, 7, 7, 7, 7},
		{"two", msd(30, 10), 10, 10, 30, 30, 30, 20},
		{"hundred", msd(hundred...), 1, 50, 90, 99, 100, 50.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Summarize(tc.in, 2)
			if s.Count != len(tc.in) || s.Errors != 2 {
				t.Fatalf("count/errors %d/%d", s.Count, s.Errors)
			}
			got := []float64{s.MinMS, s.P50MS, s.P90MS, s.P99MS, s.MaxMS, s.MeanMS}
			want := []float64{tc.min, tc.p50, tc.p90, tc.p99, tc.max, tc.mean}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("min,p50,p90,p99,max,mean = %v, want %v", got, want)
				}
			}
		})
	}
}

func TestParseScenarios(t *testing.T) {
	all, err := ParseScenarios(nil)
	if err != nil || len(all) != 4 {
		t.Fatalf("default: %v %v", all, err)
	}
	got, err := ParseScenarios([]string{"density", "create", "density"})
	if err != nil || len(got) != 2 || got[0] != ScenarioCreate || got[1] != ScenarioDensity {
		t.Fatalf("got %v %v", got, err)
	}
	if _, err := ParseScenarios([]string{"fork"}); err == nil || !strings.Contains(err.Error(), `"fork"`) {
		t.Fatalf("unknown scenario: %v", err)
	}
}

func TestConfigErrorsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.N = 0 }, "--n:"},
		{func(c *Config) { c.Concurrency = -1 }, "--concurrency:"},
		{func(c *Config) { c.DiskSizeMB = 0 }, "--disk-size-mb:"},
		{func(c *Config) { c.Template = "" }, "--template:"},
		{func(c *Config) { c.APIKey = "" }, "--api-key"},
		{func(c *Config) { c.URL = "127.0.0.1:8080" }, "--url"},
	} {
		cfg := DefaultConfig()
		cfg.APIKey = "wk_x"
		tc.mod(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error naming %s, got %v", tc.want, err)
		}
	}
}

func TestReadMeminfo(t *testing.T) {
	v, err := memAvailable("/proc/meminfo")
	if err != nil || v <= 0 {
		t.Fatalf("MemAvailable: %d %v", v, err)
	}
	if _, err := memAvailable("/proc/self/status"); err == nil {
		t.Fatal("a file without MemAvailable must fail")
	}
}

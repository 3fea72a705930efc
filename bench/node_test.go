package bench_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/warrenhq/warren/bench"
	"github.com/warrenhq/warren/node"
	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func smallConfig(t *testing.T, n *nodetest.Node) bench.Config {
	cfg := bench.DefaultConfig()
	cfg.URL, cfg.APIKey = n.URL, n.APIKey
	cfg.N, cfg.Concurrency, cfg.ExecN, cfg.IdleN, cfg.DensityMax = 3, 3, 10, 2, 4
	cfg.Settle = 100 * time.Millisecond
	cfg.Logger = nodetestLogger(t)
	return cfg
}

// TestScenariosAgainstANode runs every scenario with small numbers against a
// real node and checks the figures hang together and nothing is left alive.
func TestScenariosAgainstANode(t *testing.T) {
	n := nodetest.Start(t)
	r, err := bench.New(smallConfig(t, n))
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), nil)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if len(res.Errors) != 0 || res.RunID != r.RunID() {
		t.Fatalf("errors %v, run %q", res.Errors, res.RunID)
	}
	for _, ph := range []bench.CreatePhase{res.Create.Single, res.Create.Concurrent} {
		checkStats(t, "create ready", ph.Ready, 3)
		checkStats(t, "create POST", ph.Create, 3)
		checkStats(t, "first exec", ph.FirstExec, 3)
		if ph.Ready.P50MS < ph.Create.P50MS || ph.ExecTries < 3 || ph.WallMS <= 0 || ph.PerSecond <= 0 {
			t.Errorf("create phase %+v is inconsistent", ph)
		}
		if ph.FirstReadyMS <= 0 || ph.FirstReadyMS > ph.Ready.MaxMS {
			t.Errorf("first ready %.2f ms outside (0, max %.2f]", ph.FirstReadyMS, ph.Ready.MaxMS)
		}
		// The node's own account of each create (Server-Timing).
		for _, name := range []string{"auth", "api", "template", "quota", "reserve", "db_insert", "manager",
			"dirs", "netns", "disk", "mount", "spec", "runc", "watch", "agent", "db_running", "audit"} {
			checkStats(t, "node phase "+name, ph.Phases[name], 3)
		}
		if api, mgr := ph.Phases["api"], ph.Phases["manager"]; api.P50MS < mgr.P50MS || ph.Create.MaxMS < api.MaxMS {
			t.Errorf("phases inconsistent: api p50 %.2f < manager p50 %.2f, or api max %.2f > POST max %.2f",
				api.P50MS, mgr.P50MS, api.MaxMS, ph.Create.MaxMS)
		}
	}
	if res.Create.Single.Concurrency != 1 || res.Create.Concurrent.Concurrency != 3 {
		t.Errorf("phases ran at %d and %d in flight", res.Create.Single.Concurrency, res.Create.Concurrent.Concurrency)
	}
	checkStats(t, "exec round trip", res.Exec.RoundTrip, 10)
	checkStats(t, "exec in sandbox", res.Exec.InSandbox, 10)
	m := res.IdleMemory
	if m.Sandboxes != 2 || m.Method != "cgroup+meminfo" || m.CgroupsFound != 2 || m.CgroupUsagePerSandboxMB <= 0 ||
		m.CgroupRSSPerSandboxMB <= 0 || m.MemAvailableBeforeMB <= 0 || m.MemAvailableAfterMB <= 0 {
		t.Errorf("idle memory %+v", m)
	}
	d := res.Density
	if d.Created != 4 || d.RunningAtOnce != 4 || d.Answered != 4 || d.Stopped != "max" || len(d.ByHundred) != 1 {
		t.Errorf("density %+v", d)
	}
	checkStats(t, "density create", d.Create, 4)
	assertNoneLive(t, n)

	t.Run("cancelled mid-run leaves nothing", func(t *testing.T) {
		cfg := smallConfig(t, n)
		cfg.DensityMax = 100
		r, err := bench.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { // cancel once two sandboxes run
			for ctx.Err() == nil && countLive(t, n) < 2 {
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
		}()
		res, err := r.Run(ctx, []bench.Scenario{bench.ScenarioDensity})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled, got %v", err)
		}
		if res.Density.Created < 1 || res.Density.Created >= 100 {
			t.Errorf("created %d before the cancel", res.Density.Created)
		}
		assertNoneLive(t, n)
	})
}

// TestDensityStopsAtCapacity: a 429 from the node's sandbox limit ends the
// density run cleanly, with every sandbox made up to then counted.
func TestDensityStopsAtCapacity(t *testing.T) {
	n := nodetest.Start(t, func(c *node.Config) { c.Limits.MaxSandboxes = 2 })
	cfg := smallConfig(t, n)
	cfg.DensityMax = 5
	r, err := bench.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), []bench.Scenario{bench.ScenarioDensity})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	d := res.Density
	if d.Stopped != "capacity" || d.Created != 2 || d.RunningAtOnce != 2 || d.Answered != 2 || d.Create.Errors != 1 {
		t.Fatalf("density %+v", d)
	}
	if res.Create != nil || res.Exec != nil || res.IdleMemory != nil {
		t.Fatal("scenarios that were not asked for ran")
	}
	assertNoneLive(t, n)
}

func checkStats(t *testing.T, name string, s bench.Stats, count int) {
	t.Helper()
	if s.Count != count || s.Errors != 0 {
		t.Errorf("%s: %d samples and %d errors, want %d and 0", name, s.Count, s.Errors, count)
	}
	if !(0 <= s.MinMS && s.MinMS <= s.P50MS && s.P50MS <= s.P90MS && s.P90MS <= s.P99MS && s.P99MS <= s.MaxMS && s.MeanMS <= s.MaxMS && s.MeanMS >= s.MinMS) {
		t.Errorf("%s: figures out of order: %+v", name, s)
	}
}

func countLive(t *testing.T, n *nodetest.Node) int {
	req, _ := http.NewRequest("GET", n.URL+"/v1/sandboxes?state=running,creating,paused&limit=200", nil)
	req.Header.Set("Authorization", "Bearer "+n.APIKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return -1
	}
	defer res.Body.Close()
	var page struct {
		Items []struct{ ID, Status string }
	}
	if res.StatusCode != 200 || json.NewDecoder(res.Body).Decode(&page) != nil {
		t.Errorf("listing sandboxes: HTTP %d", res.StatusCode)
		return -1
	}
	return len(page.Items)
}

func assertNoneLive(t *testing.T, n *nodetest.Node) {
	t.Helper()
	if c := countLive(t, n); c != 0 {
		t.Fatalf("%d sandboxes still creating, running or paused after the bench", c)
	}
}

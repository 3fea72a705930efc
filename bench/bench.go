package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Scenario names one measurement the Runner can make.
type Scenario string

// The scenarios, in the order Run runs them.
const (
	ScenarioCreate     Scenario = "create"      // create→exec-ready, single and concurrent
	ScenarioExec       Scenario = "exec"        // exec round trip through the REST API
	ScenarioIdleMemory Scenario = "idle-memory" // memory one idle sandbox costs
	ScenarioDensity    Scenario = "density"     // idle sandboxes one node holds
	ScenarioPool       Scenario = "pool"        // create from a warm pool vs cold (admin key)
)

// Scenarios lists every scenario in run order.
// The pool scenario sets pools, so it needs an admin key and runs only
// when named.
var Scenarios = []Scenario{ScenarioCreate, ScenarioExec, ScenarioIdleMemory, ScenarioDensity}

// ParseScenarios checks names; none means all of them.
func ParseScenarios(names []string) ([]Scenario, error) {
	if len(names) == 0 {
		return Scenarios, nil
	}
	seen := map[Scenario]bool{}
	for _, n := range names {
		s := Scenario(n)
		switch s {
		case ScenarioCreate, ScenarioExec, ScenarioIdleMemory, ScenarioDensity, ScenarioPool:
		default:
			return nil, fmt.Errorf("bench: unknown scenario %q (want create, exec, idle-memory, density or pool)", n)
		}
		seen[s] = true
	}
	var out []Scenario
	for _, s := range Scenarios {
		if seen[s] {
			out = append(out, s)
		}
	}
	if seen[ScenarioPool] {
		out = append(out, ScenarioPool)
	}
	return out, nil
}

// Config configures a Runner. Start from DefaultConfig.
type Config struct {
	URL         string // the node's REST API, e.g. http://127.0.0.1:8080
	APIKey      string // a team API key
	Template    string // template every sandbox starts from
	N           int    // creates per create phase
	Concurrency int    // creates in flight in the concurrent phase; also cleanup parallelism
	ExecN       int    // timed execs in the exec scenario
	IdleN       int    // idle sandboxes the idle-memory scenario measures
	DensityMax  int    // the density scenario stops after this many sandboxes
	MemoryMB    int64  // memory_mb of every sandbox
	DiskSizeMB  int64  // disk_size_mb of every sandbox
	// TimeoutSec is every bench sandbox's TTL: a safety net should the bench
	// itself be killed before its cleanup.
	TimeoutSec int64
	// Settle is the pause before idle memory is read after the creates.
	Settle time.Duration
	// ReadyTimeout bounds the wait for a created sandbox's first exec.
	ReadyTimeout time.Duration
	// CleanupTimeout bounds a scenario's cleanup.
	CleanupTimeout time.Duration
	// CgroupRoot is the cgroup v1 memory hierarchy; MeminfoPath is /proc/meminfo.
	CgroupRoot  string
	MeminfoPath string
	Logger      *slog.Logger
}

// DefaultConfig returns the defaults of `warren bench`.
func DefaultConfig() Config {
	return Config{
		URL: "http://127.0.0.1:8080", Template: "base", N: 20, Concurrency: 10, ExecN: 200, IdleN: 20,
		DensityMax: 300, MemoryMB: 64, DiskSizeMB: 1024, TimeoutSec: 1800, Settle: 2 * time.Second,
		ReadyTimeout: 30 * time.Second, CleanupTimeout: 10 * time.Minute,
		CgroupRoot: "/sys/fs/cgroup/memory", MeminfoPath: "/proc/meminfo",
	}
}

// Validate checks the configuration, naming the offending flag.
func (c *Config) Validate() error {
	var errs []error
	positive := func(flag string, v int64) {
		if v < 1 {
			errs = append(errs, fmt.Errorf("--%s: must be at least 1, got %d", flag, v))
		}
	}
	if c.Template == "" {
		errs = append(errs, errors.New("--template: is required"))
	}
	positive("n", int64(c.N))
	positive("concurrency", int64(c.Concurrency))
	positive("exec-n", int64(c.ExecN))
	positive("idle-n", int64(c.IdleN))
	positive("density-max", int64(c.DensityMax))
	positive("memory-mb", c.MemoryMB)
	positive("disk-size-mb", c.DiskSizeMB)
	positive("timeout-sec", c.TimeoutSec)
	if c.ReadyTimeout <= 0 || c.CleanupTimeout <= 0 || c.Settle < 0 {
		errs = append(errs, errors.New("bench: ReadyTimeout and CleanupTimeout must be positive, Settle not negative"))
	}
	return errors.Join(errs...)
}

// metaRun is the metadata key that marks a bench run's sandboxes.
const metaRun = "warren-bench"

// Runner runs scenarios against one node.
type Runner struct {
	cfg   Config
	c     *client
	log   *slog.Logger
	runID string
}

// New checks cfg and returns a Runner.
func New(cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, err := newClient(cfg.URL, cfg.APIKey, cfg.Concurrency)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	run := hex.EncodeToString(b[:])
	return &Runner{cfg: cfg, c: c, log: cfg.Logger.With("run", run), runID: run}, nil
}

// RunID is the value of the warren-bench metadata on this run's sandboxes.
func (r *Runner) RunID() string { return r.runID }

// Result is everything one run measured.
type Result struct {
	URL        string          `json:"url"`
	Template   string          `json:"template"`
	RunID      string          `json:"run_id"`
	StartedAt  time.Time       `json:"started_at"`
	ElapsedMS  float64         `json:"elapsed_ms"`
	Create     *CreateResult   `json:"create,omitempty"`
	Exec       *ExecResult     `json:"exec,omitempty"`
	IdleMemory *MemoryResult   `json:"idle_memory,omitempty"`
	Density    *DensityResult  `json:"density,omitempty"`
	Pool       *PoolResult     `json:"pool,omitempty"`
	Errors     []ScenarioError `json:"errors,omitempty"`
}

// ScenarioError is a scenario that failed (its partial figures stay in Result).
type ScenarioError struct {
	Scenario Scenario `json:"scenario"`
	Error    string   `json:"error"`
}

// Run runs scenarios in order (all of them when none is given). A failing scenario is recorded and the next
// one still runs; cancellation stops the run. Run answers the (partial)
// result and the errors joined.
func (r *Runner) Run(ctx context.Context, scenarios []Scenario) (*Result, error) {
	defer r.c.close()
	if len(scenarios) == 0 {
		scenarios = Scenarios
	}
	res := &Result{URL: r.cfg.URL, Template: r.cfg.Template, RunID: r.runID, StartedAt: time.Now().UTC()}
	var errs []error
	for _, s := range scenarios {
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s, ctx.Err()))
			break
		}
		r.log.Info("scenario", "name", s)
		err := r.runOne(ctx, s, res)
		if err != nil {
			res.Errors = append(res.Errors, ScenarioError{Scenario: s, Error: err.Error()})
			errs = append(errs, fmt.Errorf("%s: %w", s, err))
		}
	}
	res.ElapsedMS = ms(time.Since(res.StartedAt))
	return res, errors.Join(errs...)
}

// runOne runs scenario s with its own tracker, whose sandboxes are killed
// before it returns.
func (r *Runner) runOne(ctx context.Context, s Scenario, res *Result) (err error) {
	t := &tracker{r: r}
	defer func() {
		if cerr := t.killAll(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	switch s {
	case ScenarioCreate:
		res.Create = &CreateResult{}
		return r.create(ctx, t, res.Create)
	case ScenarioExec:
		res.Exec = &ExecResult{}
		return r.exec(ctx, t, res.Exec)
	case ScenarioIdleMemory:
		res.IdleMemory = &MemoryResult{}
		return r.idleMemory(ctx, t, res.IdleMemory)
	case ScenarioDensity:
		res.Density = &DensityResult{}
		return r.density(ctx, t, res.Density)
	case ScenarioPool:
		res.Pool = &PoolResult{}
		return r.pool(ctx, t, res.Pool)
	}
	return fmt.Errorf("bench: unknown scenario %q", s)
}

// newSandbox creates one sandbox of this run and records it in t.
func (r *Runner) newSandbox(ctx context.Context, t *tracker, scenario Scenario) (sandbox, error) {
	sb, err := r.c.create(ctx, createRequest{
		Template: r.cfg.Template, MemoryMB: r.cfg.MemoryMB, DiskSizeMB: r.cfg.DiskSizeMB, TimeoutSec: r.cfg.TimeoutSec,
		Metadata: map[string]string{metaRun: r.runID, "warren-bench-scenario": string(scenario)},
	})
	if err != nil {
		return sb, err
	}
	t.add(sb.ID)
	if sb.Status != "running" {
		return sb, fmt.Errorf("sandbox %s: create answered status %q, want running (%s)", sb.ID, sb.Status, sb.Error)
	}
	return sb, nil
}

// execTrue runs `true` in sandbox id and checks it exits 0.
func (r *Runner) execTrue(ctx context.Context, id string) (execResult, error) {
	res, err := r.c.exec(ctx, id, execRequest{Cmd: "true", TimeoutSec: 30})
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("exec in sandbox %s: `true` exited %d (stderr %q)", id, res.ExitCode, res.Stderr)
	}
	return res, err
}

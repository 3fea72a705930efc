package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"
)

// Target is one live sandbox as the sampler reads it, all host-side paths.
type Target struct {
	ID   string // "sb-…"
	Team string // "team-…", a label for exporters
	// CgroupPath is the sandbox's cgroup below each hierarchy's root, e.g.
	// "/warren-w1a2b3/sb-…".
	CgroupPath string
	HostVeth   string // the host end of its veth; "" when it has none yet
	Rootfs     string // where its root filesystem is mounted on the host
}

// Source lists the sandboxes to sample (sandbox.Manager through an adapter).
type Source interface {
	Targets() []Target
}

// Sample is one reading of a sandbox. Network counters are cumulative bytes
// since the sandbox started, from the sandbox's point of view.
type Sample struct {
	Time             time.Time `json:"time"`
	CPUPercent       float64   `json:"cpu_percent"` // of its vCPU limit over the last interval
	VCPUs            float64   `json:"vcpus"`       // that limit; 0: none (measured against the host's CPUs)
	MemoryUsedBytes  int64     `json:"memory_used_bytes"`
	MemoryLimitBytes int64     `json:"memory_limit_bytes"` // 0: none
	DiskUsedBytes    int64     `json:"disk_used_bytes"`
	DiskSizeBytes    int64     `json:"disk_size_bytes"`
	NetRxBytes       uint64    `json:"net_rx_bytes"`
	NetTxBytes       uint64    `json:"net_tx_bytes"`
}

// CPUCores is the CPU the sandbox used over the last interval, in cores.
func (s Sample) CPUCores() float64 {
	limit := s.VCPUs
	if limit <= 0 {
		limit = hostCPUs
	}
	return s.CPUPercent / 100 * limit
}

// Current is a sandbox's newest sample with its labels.
type Current struct {
	ID, Team string
	Sample
}

// Config configures a Sampler; start from DefaultConfig.
type Config struct {
	// Interval is the time between samples (default 5 s; 100 ms to 1 h).
	Interval time.Duration
	// History is how far back each sandbox's samples are kept (default 1 h);
	// History/Interval samples, at most MaxSamples.
	History time.Duration
	// CgroupRoot is where the cgroup hierarchies are mounted (default
	// /sys/fs/cgroup); NetRoot the host's interfaces (default /sys/class/net).
	CgroupRoot string
	NetRoot    string
	Logger     *slog.Logger
}

// MaxSamples bounds one sandbox's history.
const MaxSamples = 100_000

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Interval: 5 * time.Second, History: time.Hour, CgroupRoot: "/sys/fs/cgroup", NetRoot: "/sys/class/net", Logger: slog.Default()}
}

// Validate checks the configuration, naming the offending setting.
func (c Config) Validate() error {
	var errs []error
	if c.Interval < 100*time.Millisecond || c.Interval > time.Hour {
		errs = append(errs, fmt.Errorf("metrics: Interval (--metrics-interval) must be between 100ms and 1h, got %s", c.Interval))
	}
	if c.History < c.Interval {
		errs = append(errs, fmt.Errorf("metrics: History (--metrics-history) %s must be at least the interval %s", c.History, c.Interval))
	} else if c.Interval > 0 && c.History/c.Interval > MaxSamples {
		errs = append(errs, fmt.Errorf("metrics: History/Interval (--metrics-history / --metrics-interval) must be at most %d samples, got %d", MaxSamples, c.History/c.Interval))
	}
	if c.CgroupRoot == "" || c.NetRoot == "" {
		errs = append(errs, errors.New("metrics: CgroupRoot and NetRoot are required"))
	}
	return errors.Join(errs...)
}

// Sampler samples a Source's sandboxes. Its methods are safe for concurrent use.
type Sampler struct {
	cfg  Config
	src  Source
	cg   *cgroups
	size int // samples kept per sandbox
	now  func() time.Time

	mu    sync.Mutex
	boxes map[string]*series
}

// series is one sandbox's history and the reading its next CPU delta starts from.
type series struct {
	team    string
	ring    *ring
	prevCPU uint64
	prevAt  time.Time
	primed  bool
}

// New returns a Sampler over src.
func New(cfg Config, src Source) (*Sampler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cg, err := detectCgroups(cfg.CgroupRoot)
	if err != nil {
		return nil, err
	}
	return &Sampler{cfg: cfg, src: src, cg: cg, size: int(cfg.History / cfg.Interval), now: time.Now, boxes: map[string]*series{}}, nil
}

// Interval returns the time between samples.
func (s *Sampler) Interval() time.Duration { return s.cfg.Interval }

// Run samples every interval until ctx is done.
func (s *Sampler) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	s.SampleNow()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.SampleNow()
		}
	}
}

// SampleNow takes one sample of every target and drops the history of
// sandboxes that are gone. Run calls it every interval.
func (s *Sampler) SampleNow() {
	targets := s.src.Targets()
	type reading struct {
		t  Target
		r  raw
		at time.Time
	}
	readings := make([]reading, 0, len(targets))
	for _, t := range targets {
		var r raw
		err := s.cg.read(t.CgroupPath, &r)
		if errors.Is(err, os.ErrNotExist) {
			continue // being created or torn down
		}
		if err != nil {
			s.cfg.Logger.Debug("sampling a sandbox's cgroup", "sandbox", t.ID, "err", err)
		}
		if t.HostVeth != "" {
			if err := readNet(s.cfg.NetRoot, t.HostVeth, &r); err != nil {
				s.cfg.Logger.Debug("sampling a sandbox's network", "sandbox", t.ID, "err", err)
			}
		}
		if t.Rootfs != "" {
			if err := readDisk(t.Rootfs, &r); err != nil {
				s.cfg.Logger.Debug("sampling a sandbox's disk", "sandbox", t.ID, "err", err)
			}
		}
		readings = append(readings, reading{t, r, s.now()})
	}
	live := make(map[string]bool, len(targets))
	for _, t := range targets {
		live[t.ID] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.boxes {
		if !live[id] {
			delete(s.boxes, id)
		}
	}
	for _, rd := range readings {
		b := s.boxes[rd.t.ID]
		if b == nil {
			b = &series{team: rd.t.Team, ring: newRing(s.size)}
			s.boxes[rd.t.ID] = b
		}
		s.record(b, rd.r, rd.at)
	}
}

// record turns a reading into a sample (from the second reading on).
func (s *Sampler) record(b *series, r raw, at time.Time) {
	prevCPU, prevAt, primed := b.prevCPU, b.prevAt, b.primed
	b.prevCPU, b.prevAt, b.primed = r.cpuNanos, at, r.haveCPUTime
	if !primed || !r.haveCPUTime || !at.After(prevAt) || r.cpuNanos < prevCPU {
		return
	}
	limit := r.vcpus
	if limit <= 0 {
		limit = hostCPUs
	}
	pct := float64(r.cpuNanos-prevCPU) / float64(at.Sub(prevAt).Nanoseconds()) / limit * 100
	b.ring.add(Sample{Time: at.UTC(), CPUPercent: pct, VCPUs: r.vcpus,
		MemoryUsedBytes: r.memUsed, MemoryLimitBytes: r.memLimit,
		DiskUsedBytes: r.diskUsed, DiskSizeBytes: r.diskSize, NetRxBytes: r.rx, NetTxBytes: r.tx})
}

// Series returns sandbox id's samples taken after since (all when zero),
// oldest first; ok is false when the sampler does not know the sandbox
// (not on this node, or not seen yet).
func (s *Sampler) Series(id string, since time.Time) (samples []Sample, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.boxes[id]
	if b == nil {
		return nil, false
	}
	return b.ring.since(since), true
}

// Currents returns the newest sample of every sandbox that has one, by ID.
func (s *Sampler) Currents() []Current {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Current, 0, len(s.boxes))
	for id, b := range s.boxes {
		if last, ok := b.ring.last(); ok {
			out = append(out, Current{ID: id, Team: b.team, Sample: last})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

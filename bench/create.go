package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// CreateResult is the create scenario: create→exec-ready latency measured N
// times one at a time, then N times with Concurrency creates in flight.
type CreateResult struct {
	Single     CreatePhase `json:"single"`
	Concurrent CreatePhase `json:"concurrent"`
}

// CreatePhase splits each create→exec-ready into the POST (which answers once
// the sandbox runs) and the wait for the first successful exec of `true`.
type CreatePhase struct {
	N           int   `json:"n"`
	Concurrency int   `json:"concurrency"`
	Ready       Stats `json:"ready"` // POST sent → first exec answered
	// FirstReadyMS is Ready of the phase's first create: one at a time, the
	// first sandbox of a disk size the node has not seen pays for its size
	// class (blockdev/reflink), the others clone it.
	FirstReadyMS float64 `json:"first_ready_ms"`
	Create       Stats   `json:"create"`     // POST round trip
	FirstExec    Stats   `json:"first_exec"` // POST answered → first exec answered
	ExecTries    int     `json:"exec_tries"` // execs sent in all, retries included
	// Phases is where the node says each create spent its time, per phase
	// name (sandbox/timing): auth, api (the whole handler), template, quota,
	// place, reserve, db_insert, image, manager (Manager.Create) and inside
	// it dirs, disk, mount, netns (made while disk and mount are), spec,
	// runc (create+start), watch, agent (dial + healthy); db_running, audit.
	// Empty against nodes that do not record phases.
	Phases    map[string]Stats `json:"phases,omitempty"`
	WallMS    float64          `json:"wall_ms"`
	PerSecond float64          `json:"creates_per_second"`
}

func (r *Runner) create(ctx context.Context, t *tracker, res *CreateResult) error {
	if err := r.createPhase(ctx, t, 1, &res.Single); err != nil {
		return fmt.Errorf("one at a time: %w", err)
	}
	if err := r.createPhase(ctx, t, r.cfg.Concurrency, &res.Concurrent); err != nil {
		return fmt.Errorf("%d concurrent: %w", r.cfg.Concurrency, err)
	}
	return nil
}

// createPhase makes N sandboxes with conc in flight. One at a time, each is
// killed before the next starts; concurrent ones stay until the phase ends.
func (r *Runner) createPhase(ctx context.Context, t *tracker, conc int, ph *CreatePhase) error {
	var (
		mu                   sync.Mutex
		ready, create, first sampler
		firstErr             error
		phases               = map[string]*sampler{}
	)
	ph.N, ph.Concurrency = r.cfg.N, conc
	start := time.Now()
	forEach(ctx, make([]struct{}, r.cfg.N), conc, func(ctx context.Context, _ struct{}) {
		s, err := r.createReady(ctx, t)
		if conc == 1 && s.id != "" {
			// Untimed: one at a time means one live sandbox at a time.
			if kerr := r.c.kill(ctx, s.id); kerr == nil {
				t.forget(s.id)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		ph.ExecTries += s.tries
		if err != nil {
			ready.fail()
			if firstErr == nil {
				firstErr = err
			}
			return
		}
		if len(ready.samples) == 0 {
			ph.FirstReadyMS = ms(s.ready)
		}
		ready.add(s.ready)
		create.add(s.create)
		for name, d := range s.phases {
			if phases[name] == nil {
				phases[name] = &sampler{}
			}
			phases[name].add(d)
		}
		first.add(s.ready - s.create)
	})
	wall := time.Since(start)
	ph.Ready, ph.Create, ph.FirstExec = ready.stats(), create.stats(), first.stats()
	if len(phases) > 0 {
		ph.Phases = map[string]Stats{}
		for name, s := range phases {
			ph.Phases[name] = s.stats()
		}
	}
	ph.WallMS = ms(wall)
	if ph.Ready.Count > 0 {
		ph.PerSecond = float64(ph.Ready.Count) / wall.Seconds()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return firstErr
}

type readySample struct {
	id            string
	create, ready time.Duration
	tries         int
	phases        map[string]time.Duration
}

// createReady creates a sandbox and waits for its first successful exec.
func (r *Runner) createReady(ctx context.Context, t *tracker) (readySample, error) {
	var s readySample
	start := time.Now()
	sb, err := r.newSandbox(ctx, t, ScenarioCreate)
	if err != nil {
		s.id = sb.ID
		return s, err
	}
	s.create, s.id, s.phases = time.Since(start), sb.ID, sb.phases
	s.tries, err = r.waitExecReady(ctx, sb.ID)
	if err != nil {
		return s, err
	}
	s.ready = time.Since(start)
	return s, nil
}

// waitExecReady execs `true` until it succeeds, retrying answers that say
// the sandbox is not ready yet, within ReadyTimeout.
func (r *Runner) waitExecReady(ctx context.Context, id string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ReadyTimeout)
	defer cancel()
	tries := 0
	for {
		tries++
		_, err := r.execTrue(ctx, id)
		if err == nil {
			return tries, nil
		}
		switch statusOf(err) {
		case http.StatusServiceUnavailable, http.StatusConflict, http.StatusBadGateway:
		default:
			return tries, err
		}
		if serr := sleep(ctx, 5*time.Millisecond); serr != nil {
			return tries, fmt.Errorf("sandbox %s: not exec-ready within %s: %w (last: %v)", id, r.cfg.ReadyTimeout, serr, err)
		}
	}
}

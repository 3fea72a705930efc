package bench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// PoolResult is the pool scenario: N creates one at a time that claim from
// a warm pool of N (set through the admin API, so the run's key must be an
// admin's), then N cold creates of the same class with the pool emptied.
// Both are the POST round trip through the REST API.
type PoolResult struct {
	N       int     `json:"n"`
	FillMS  float64 `json:"fill_ms"` // pool set → N pooled sandboxes ready
	Claimed int     `json:"claimed"` // creates that answered a pooled sandbox
	Claim   Stats   `json:"claim"`
	Cold    Stats   `json:"cold"`
}

// pooledPoll is how often the scenario looks whether the pool is full.
const pooledPoll = 50 * time.Millisecond

func (r *Runner) pool(ctx context.Context, t *tracker, res *PoolResult) error {
	res.N = r.cfg.N
	var tpls struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	if err := r.c.do(ctx, http.MethodGet, "/v1/templates", nil, &tpls); err != nil {
		return err
	}
	tpl := ""
	for _, x := range tpls.Items {
		if x.Name == r.cfg.Template || x.ID == r.cfg.Template {
			tpl = x.ID
		}
	}
	if tpl == "" {
		return fmt.Errorf("no template %q", r.cfg.Template)
	}
	setPool := func(ctx context.Context, n int) error {
		return r.c.do(ctx, http.MethodPut, "/v1/admin/templates/"+tpl+"/pool",
			map[string]any{"count": n, "memory_mb": r.cfg.MemoryMB, "disk_size_mb": r.cfg.DiskSizeMB}, nil)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = setPool(cctx, 0)
	}()
	start := time.Now()
	if err := setPool(ctx, r.cfg.N); err != nil {
		return err
	}
	var ids []string
	for {
		// A pooled sandbox is ready (claimable) once it has started: its
		// started_at is set only then.
		var page struct {
			Items []struct {
				ID        string     `json:"id"`
				StartedAt *time.Time `json:"started_at"`
			} `json:"items"`
		}
		if err := r.c.do(ctx, http.MethodGet, "/v1/admin/sandboxes?state=pooled&limit=200", nil, &page); err != nil {
			return err
		}
		ids = ids[:0]
		for _, sb := range page.Items {
			if sb.StartedAt != nil {
				ids = append(ids, sb.ID)
			}
		}
		if len(ids) >= r.cfg.N {
			break
		}
		if err := sleep(ctx, pooledPoll); err != nil {
			return fmt.Errorf("the pool of %d did not fill: %d ready: %w", r.cfg.N, len(ids), err)
		}
	}
	res.FillMS = ms(time.Since(start))
	var claim, cold sampler
	for range r.cfg.N {
		t0 := time.Now()
		sb, err := r.newSandbox(ctx, t, ScenarioPool)
		if err != nil {
			return err
		}
		claim.add(time.Since(t0))
		if slices.Contains(ids, sb.ID) {
			res.Claimed++
		}
	}
	res.Claim = claim.stats()
	if err := setPool(ctx, 0); err != nil {
		return err
	}
	for range r.cfg.N {
		t0 := time.Now()
		sb, err := r.newSandbox(ctx, t, ScenarioPool)
		if err != nil {
			return err
		}
		cold.add(time.Since(t0))
		if kerr := r.c.kill(ctx, sb.ID); kerr == nil {
			t.forget(sb.ID)
		}
	}
	res.Cold = cold.stats()
	return nil
}

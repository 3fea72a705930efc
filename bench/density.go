package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// DensityResult is the density scenario: small idle sandboxes created one
// after another until DensityMax, the first failure or a 429.
type DensityResult struct {
	Max     int `json:"max"`
	Created int `json:"created"`
	// StopReason is "reached max", or the failure or 429 that stopped it.
	StopReason string `json:"stop_reason"`
	Stopped    string `json:"stopped"` // max, capacity (429), error, cancelled
	// RunningAtOnce is the number of this run's sandboxes the API listed
	// as running after the last create; Answered is how many of them then
	// answered an exec of `true`.
	RunningAtOnce int      `json:"running_at_once"`
	Answered      int      `json:"answered_exec"`
	ExecFailures  []string `json:"exec_failures,omitempty"` // the first few
	// Create is the POST latency over the whole run; ByHundred splits it in
	// blocks of 100 creates to show how it grows with the count.
	Create    Stats   `json:"create"`
	ByHundred []Stats `json:"create_by_hundred"`
	// Host MemAvailable before and after, when the node is on this host.
	MemAvailableBeforeMB float64 `json:"mem_available_before_mb,omitempty"`
	MemAvailableAfterMB  float64 `json:"mem_available_after_mb,omitempty"`
	ElapsedMS            float64 `json:"elapsed_ms"`
}

const maxReportedFailures = 5

func (r *Runner) density(ctx context.Context, t *tracker, res *DensityResult) error {
	res.Max = r.cfg.DensityMax
	start := time.Now()
	local := isLocalURL(r.cfg.URL)
	if local {
		if v, err := memAvailable(r.cfg.MeminfoPath); err == nil {
			res.MemAvailableBeforeMB = mb(v)
		}
	}
	var all, block sampler
	ids := make([]string, 0, r.cfg.DensityMax)
	res.Stopped, res.StopReason = "max", fmt.Sprintf("reached --density-max %d", r.cfg.DensityMax)
	for i := range r.cfg.DensityMax {
		cstart := time.Now()
		sb, err := r.newSandbox(ctx, t, ScenarioDensity)
		d := time.Since(cstart)
		if err != nil {
			switch {
			case ctx.Err() != nil:
				res.Stopped, res.StopReason = "cancelled", ctx.Err().Error()
			case statusOf(err) == http.StatusTooManyRequests:
				res.Stopped, res.StopReason = "capacity", fmt.Sprintf("create #%d: %v", i+1, err)
			default:
				res.Stopped, res.StopReason = "error", fmt.Sprintf("create #%d: %v", i+1, err)
			}
			all.fail()
			break
		}
		ids = append(ids, sb.ID)
		all.add(d)
		block.add(d)
		if len(block.samples) == 100 {
			res.ByHundred = append(res.ByHundred, block.stats())
			block = sampler{}
		}
		if (i+1)%50 == 0 {
			r.log.Info("density", "created", i+1, "last_create", d.Round(time.Millisecond))
		}
	}
	if len(block.samples) > 0 {
		res.ByHundred = append(res.ByHundred, block.stats())
	}
	res.Created, res.Create = len(ids), all.stats()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	err := r.densityCheck(ctx, ids, res)
	if local {
		if v, merr := memAvailable(r.cfg.MeminfoPath); merr == nil {
			res.MemAvailableAfterMB = mb(v)
		}
	}
	res.ElapsedMS = ms(time.Since(start))
	if err != nil {
		return err
	}
	if res.Stopped == "error" {
		return errors.New(res.StopReason)
	}
	return nil
}

// densityCheck counts this run's running sandboxes and execs `true` in each.
func (r *Runner) densityCheck(ctx context.Context, ids []string, res *DensityResult) error {
	running, err := r.c.list(ctx, []string{"running"}, metaRun, r.runID)
	if err != nil {
		return err
	}
	res.RunningAtOnce = len(running)
	var mu sync.Mutex
	forEach(ctx, ids, r.cfg.Concurrency, func(ctx context.Context, id string) {
		_, err := r.execTrue(ctx, id)
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			res.Answered++
		} else if len(res.ExecFailures) < maxReportedFailures {
			res.ExecFailures = append(res.ExecFailures, err.Error())
		}
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if res.Answered != len(ids) {
		return fmt.Errorf("%d of %d sandboxes did not answer an exec; first: %v", len(ids)-res.Answered, len(ids), res.ExecFailures)
	}
	return nil
}

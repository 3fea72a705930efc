package bench

import (
	"context"
	"fmt"
	"time"
)

// ExecResult is the exec scenario: ExecN execs of `true`, one after another,
// on one running sandbox, after a few untimed warm-up execs.
type ExecResult struct {
	N         int    `json:"n"`
	Sandbox   string `json:"sandbox"`
	Command   string `json:"command"`
	RoundTrip Stats  `json:"round_trip"` // POST …/exec sent → answer decoded
	// InSandbox is the duration_ms the agent reports (process start to exit),
	// whole milliseconds; the rest of the round trip is API + gRPC overhead.
	InSandbox Stats `json:"in_sandbox"`
}

const execWarmup = 5

func (r *Runner) exec(ctx context.Context, t *tracker, res *ExecResult) error {
	res.N, res.Command = r.cfg.ExecN, "true (cmd alone: /bin/sh -c true)"
	sb, err := r.newSandbox(ctx, t, ScenarioExec)
	if err != nil {
		return err
	}
	res.Sandbox = sb.ID
	if _, err := r.waitExecReady(ctx, sb.ID); err != nil {
		return err
	}
	for range execWarmup {
		if _, err := r.execTrue(ctx, sb.ID); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	var rt, in sampler
	var firstErr error
	for range r.cfg.ExecN {
		if ctx.Err() != nil {
			break
		}
		start := time.Now()
		out, err := r.execTrue(ctx, sb.ID)
		d := time.Since(start)
		if err != nil {
			rt.fail()
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		rt.add(d)
		in.add(time.Duration(out.DurationMS) * time.Millisecond)
	}
	res.RoundTrip, res.InSandbox = rt.stats(), in.stats()
	if err := ctx.Err(); err != nil {
		return err
	}
	return firstErr
}

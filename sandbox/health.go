package sandbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/sandbox/agent"
)

// Healthcheck is a command that must exit 0 before a sandbox counts as ready.
// A zero field takes its default.
type Healthcheck struct {
	Cmd         string
	Interval    time.Duration // between tries (default 1s)
	Timeout     time.Duration // one try (default 5s)
	Retries     int           // failed tries after StartPeriod (default 30)
	StartPeriod time.Duration // failures here do not count (default 0)
}

func (h *Healthcheck) defaults() (interval, timeout, startPeriod time.Duration, retries int) {
	interval, timeout, retries = time.Second, 5*time.Second, 30
	if h.Interval > 0 {
		interval = h.Interval
	}
	if h.Timeout > 0 {
		timeout = h.Timeout
	}
	if h.Retries > 0 {
		retries = h.Retries
	}
	return interval, timeout, h.StartPeriod, retries
}

// Deadline is the longest Wait may take: the start period plus every retry.
func (h *Healthcheck) Deadline() time.Duration {
	interval, timeout, start, retries := h.defaults()
	return start + time.Duration(retries+1)*(interval+timeout)
}

// Wait polls the healthcheck through the agent until it passes, it has failed
// Retries times after the start period, or the overall deadline passes. The
// first try is immediate; later tries are spaced by the interval with a timer
// that is stopped as soon as the check passes.
func (h *Healthcheck) Wait(ctx context.Context, a *agent.Client) error {
	interval, timeout, startPeriod, retries := h.defaults()
	ctx, cancel := context.WithTimeout(ctx, h.Deadline())
	defer cancel()
	started := time.Now()
	failures := 0
	var last string
	for {
		res, err := a.ExecCollect(ctx, agent.ExecOptions{Shell: h.Cmd, Timeout: timeout, OutputLimit: 4096})
		switch {
		case err == nil && res.ExitCode == 0 && !res.TimedOut:
			return nil
		case err != nil:
			last = err.Error()
		case res.TimedOut:
			last = fmt.Sprintf("timed out after %s", timeout)
		default:
			last = fmt.Sprintf("exit code %d: %s", res.ExitCode, tail(res.Stderr, 200))
		}
		if time.Since(started) >= startPeriod {
			failures++
		}
		if failures > retries {
			return fmt.Errorf("healthcheck %q failed %d times; last: %s", h.Cmd, failures, last)
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("healthcheck %q did not pass within %s; last: %s", h.Cmd, h.Deadline(), last)
		case <-t.C:
		}
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func isNotFound(err error) bool { return errors.Is(err, blockdev.ErrNotFound) }

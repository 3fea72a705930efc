package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// liveStates are the statuses of a sandbox that still holds resources.
var liveStates = []string{"creating", "running", "paused"}

// tracker remembers the sandboxes one scenario created so they can be killed
// when it ends, however it ends.
type tracker struct {
	r   *Runner
	mu  sync.Mutex
	ids []string
}

func (t *tracker) add(id string) {
	t.mu.Lock()
	t.ids = append(t.ids, id)
	t.mu.Unlock()
}

// forget drops id, killed already.
func (t *tracker) forget(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, v := range t.ids {
		if v == id {
			t.ids = append(t.ids[:i], t.ids[i+1:]...)
			return
		}
	}
}

func (t *tracker) take() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := t.ids
	t.ids = nil
	return ids
}

// killAll kills every recorded sandbox and then any live sandbox of this run
// the bench never heard of (a create whose answer was lost to cancellation).
// It runs on a fresh context so a cancelled run still cleans up.
func (t *tracker) killAll() error {
	ctx, cancel := context.WithTimeout(context.Background(), t.r.cfg.CleanupTimeout)
	defer cancel()
	start := time.Now()
	ids := t.take()
	errs := t.r.killIDs(ctx, ids)
	left, err := t.r.c.list(ctx, liveStates, metaRun, t.r.runID)
	if err != nil {
		errs = append(errs, err)
	} else if len(left) > 0 {
		more := make([]string, len(left))
		for i, sb := range left {
			more[i] = sb.ID
		}
		errs = append(errs, t.r.killIDs(ctx, more)...)
		ids = append(ids, more...)
	}
	if len(ids) > 0 {
		t.r.log.Info("killed the bench's sandboxes", "count", len(ids), "elapsed", time.Since(start).Round(time.Millisecond))
	}
	if len(errs) > 0 {
		return fmt.Errorf("cleaning up the bench's sandboxes (run %s): %w", t.r.runID, errors.Join(errs...))
	}
	return nil
}

// killIDs kills ids with a few requests in flight, returning the failures.
func (r *Runner) killIDs(ctx context.Context, ids []string) []error {
	var (
		mu   sync.Mutex
		errs []error
	)
	forEach(ctx, ids, r.cfg.Concurrency, func(ctx context.Context, id string) {
		if err := r.c.kill(ctx, id); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	})
	return errs
}

// forEach calls fn for every item with at most n calls in flight; it stops
// handing out items once ctx is done.
func forEach[T any](ctx context.Context, items []T, n int, fn func(context.Context, T)) {
	work := make(chan T)
	var wg sync.WaitGroup
	for range max(1, n) {
		wg.Go(func() {
			for it := range work {
				fn(ctx, it)
			}
		})
	}
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		work <- it
	}
	close(work)
	wg.Wait()
}

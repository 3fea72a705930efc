package envd

import (
	"context"
	"time"
)

// received is one result of a stream's Recv.
type received[T any] struct {
	m   T
	err error
}

// pump calls recv until it fails and hands every result, the error last, to
// the returned channel, so a caller can select on it beside keepalives and
// its context. It stops early when ctx ends.
func pump[T any](ctx context.Context, recv func() (T, error)) <-chan received[T] {
	ch := make(chan received[T])
	go func() {
		for {
			m, err := recv()
			select {
			case ch <- received[T]{m, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// keepaliveTicks returns a channel that ticks every interval (never for 0)
// and the function that stops it.
func keepaliveTicks(interval time.Duration) (<-chan time.Time, func()) {
	if interval <= 0 {
		return nil, func() {}
	}
	t := time.NewTicker(interval)
	return t.C, t.Stop
}

package rpc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Retry backoff: full jitter over an exponentially growing ceiling.
const (
	retryBase = 50 * time.Millisecond
	retryMax  = 2 * time.Second
)

// Retryable reports whether err is a gRPC Unavailable or DeadlineExceeded
// status (possibly wrapped): the peer may answer on a later try.
func Retryable(err error) bool {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return false
	}
	switch se.GRPCStatus().Code() {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

// Retry calls fn up to attempts times while it fails with a Retryable error,
// sleeping a jittered, growing delay between tries. It stops early when ctx
// is done and returns fn's last error (or ctx's error if no try ran).
func Retry(ctx context.Context, attempts int, fn func() error) error {
	if attempts < 1 {
		return fmt.Errorf("rpc retry: attempts: must be at least 1, got %d", attempts)
	}
	var err error
	ceiling := retryBase
	for i := 0; i < attempts; i++ {
		if cerr := ctx.Err(); cerr != nil {
			if err == nil {
				return cerr
			}
			return fmt.Errorf("%w (gave up: %v)", err, cerr)
		}
		if err = fn(); err == nil || !Retryable(err) || i == attempts-1 {
			return err
		}
		t := time.NewTimer(rand.N(ceiling) + time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up: %v)", err, ctx.Err())
		case <-t.C:
		}
		ceiling = min(2*ceiling, retryMax)
	}
	return err
}

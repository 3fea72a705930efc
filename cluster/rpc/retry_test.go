package rpc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRetry(t *testing.T) {
	unavailable := status.Error(codes.Unavailable, "no leader")
	for _, c := range []struct {
		name     string
		attempts int
		errs     []error // fn's results, in order; nil afterwards
		calls    int
		wantErr  error
	}{
		{"succeeds after transient failures", 5, []error{unavailable, status.Error(codes.DeadlineExceeded, "slow")}, 3, nil},
		{"wrapped status is retried", 3, []error{fmt.Errorf("place: %w", unavailable)}, 2, nil},
		{"permanent error is not retried", 5, []error{status.Error(codes.InvalidArgument, "bad")}, 1, nil},
		{"plain error is not retried", 5, []error{ErrCorrupt}, 1, ErrCorrupt},
		{"gives up after attempts", 3, []error{unavailable, unavailable, unavailable, unavailable}, 3, unavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			err := Retry(t.Context(), c.attempts, func() error {
				calls++
				if calls <= len(c.errs) {
					return c.errs[calls-1]
				}
				return nil
			})
			if calls != c.calls {
				t.Errorf("fn called %d times, want %d", calls, c.calls)
			}
			if c.calls <= len(c.errs) && err == nil {
				t.Errorf("Retry returned nil, want fn's last error")
			}
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Errorf("Retry = %v, want %v", err, c.wantErr)
			}
		})
	}
}

func TestRetryStopsOnContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := Retry(ctx, 100, func() error {
		calls++
		if calls == 2 {
			cancel()
		}
		return status.Error(codes.Unavailable, "down")
	})
	if calls != 2 || status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("after cancel: %d calls, err %v", calls, err)
	}
	if err := Retry(ctx, 3, func() error { t.Fatal("fn called with a done context"); return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Retry on a done context = %v", err)
	}
	if err := Retry(t.Context(), 0, func() error { return nil }); err == nil || !strings.Contains(err.Error(), "attempts") {
		t.Fatalf("attempts=0: %v", err)
	}
}

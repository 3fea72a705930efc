package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
	"github.com/warrenhq/warren/store/storetest"
)

// syncBuffer is a log sink safe for the leader task's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A leader task takes office before it runs: it raises the fence to its term,
// does not start when a newer term holds the fence, and ends, logged, when the
// fence refuses its writes.
func TestFencedLeaderTask(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	var logs syncBuffer
	cn := &clusterNode{n: &Node{store: st, log: slog.New(slog.NewTextHandler(&logs, nil))}}
	if err := st.AdvanceFence(ctx, 5); err != nil {
		t.Fatal(err)
	}
	ran := 0
	task := func(_ context.Context, term uint64) error {
		ran++
		f, err := st.GetFence(ctx)
		if err != nil || uint64(f) != term {
			return fmt.Errorf("the task of term %d runs with the fence at %d (%v)", term, f, err)
		}
		return nil
	}

	// A deposed term: the task never starts, the fence stays.
	cn.fenced("probe", task)(ctx, 3)
	if ran != 0 {
		t.Fatal("a task of a deposed term ran")
	}
	if f, _ := st.GetFence(ctx); f != 5 {
		t.Fatalf("a deposed term moved the fence to %d", f)
	}
	if !strings.Contains(logs.String(), "leader task not started") || !strings.Contains(logs.String(), "term=3") {
		t.Fatalf("the refusal was not logged: %s", logs.String())
	}

	// A new term takes office first, then runs.
	cn.fenced("probe", func(ctx context.Context, term uint64) error {
		if err := task(ctx, term); err != nil {
			t.Fatal(err)
		}
		// A newer leader takes office meanwhile: the next write is refused.
		if err := st.AdvanceFence(ctx, term+1); err != nil {
			t.Fatal(err)
		}
		return st.Fenced(ctx, term, func(*db.Queries) error {
			t.Error("a fenced write ran for a deposed term")
			return nil
		})
	})(ctx, 8)
	if ran != 1 {
		t.Fatalf("the task of the new term ran %d times", ran)
	}
	if !strings.Contains(logs.String(), "leader task stopped") || !strings.Contains(logs.String(), "the fence is at term 9") {
		t.Fatalf("the fence's refusal of a running task was not logged: %s", logs.String())
	}
	if err := cn.takeOffice(ctx, 0); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("taking office with term 0: %v", err)
	}

	// Postgres does not answer: the raise is retried until leadership ends,
	// and the task never runs without having taken office.
	down := storetest.New(t)
	down.Close()
	var downLogs syncBuffer
	cnDown := &clusterNode{n: &Node{store: down, log: slog.New(slog.NewTextHandler(&downLogs, nil))}}
	lead, lose := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer lose()
	cnDown.fenced("probe", func(context.Context, uint64) error {
		t.Error("a task ran without taking office")
		return nil
	})(lead, 10)
	if n := strings.Count(downLogs.String(), "raising the leader fence failed; retrying"); n < 2 {
		t.Fatalf("%d retries logged while Postgres did not answer: %s", n, downLogs.String())
	}
}

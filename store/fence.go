package store

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/warrenhq/warren/store/db"
)

// ErrFenced is the category of a leader-only write refused because its raft term
// does not hold the fence: a newer leader took office (or none with this term
// did). It is final for that term; retrying cannot succeed.
var ErrFenced = errors.New("fenced")

// FenceError is a leader-only write refused by the fence. It wraps ErrFenced.
type FenceError struct {
	Term  uint64 // the writer's raft term
	Fence uint64 // the term holding the fence
}

func (e *FenceError) Error() string {
	if e.Fence > e.Term {
		return fmt.Sprintf("fenced: term %d was deposed, the fence is at term %d (a newer leader took office)", e.Term, e.Fence)
	}
	return fmt.Sprintf("fenced: term %d never took office, the fence is at term %d", e.Term, e.Fence)
}

// Unwrap makes errors.Is(err, ErrFenced) hold.
func (e *FenceError) Unwrap() error { return ErrFenced }

// fenceTerm checks that a raft term can be a fencing token.
func fenceTerm(term uint64) (int64, error) {
	if term == 0 || term > math.MaxInt64 {
		return 0, fmt.Errorf("%w: fencing term %d: must be between 1 and 2^63-1", ErrInvalid, term)
	}
	return int64(term), nil
}

// AdvanceFence raises the fence to term, for a leader taking office. It never
// lowers it: when a newer term already holds the fence it returns a
// *FenceError. Raising to the term that holds it is a no-op, so every leader
// task may call it.
func (s *Store) AdvanceFence(ctx context.Context, term uint64) error {
	t, err := fenceTerm(term)
	if err != nil {
		return err
	}
	if _, err := s.RaiseFence(ctx, t); err != nil {
		if !errors.Is(Map(err), ErrNotFound) {
			return Map(err)
		}
		fence, gerr := s.GetFence(ctx)
		if gerr != nil {
			return Map(gerr)
		}
		return &FenceError{Term: term, Fence: uint64(fence)}
	}
	return nil
}

// Fenced runs fn in a transaction that first locks the fence row FOR SHARE and
// checks that term holds it, so every write of fn is made by the leader in
// office or not at all. A term that does not hold the fence gets a *FenceError
// and fn does not run. The share lock makes a concurrent AdvanceFence wait for
// the commit: the fence orders every leader-only write against every change of
// leader.
func (s *Store) Fenced(ctx context.Context, term uint64, fn func(q *db.Queries) error) error {
	t, err := fenceTerm(term)
	if err != nil {
		return err
	}
	return s.Tx(ctx, func(q *db.Queries) error {
		fence, err := q.LockFence(ctx)
		if err != nil {
			return Map(err)
		}
		if fence != t {
			return &FenceError{Term: term, Fence: uint64(fence)}
		}
		return fn(q)
	})
}

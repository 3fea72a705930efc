package sandboxes

import (
	"context"
	"errors"
	"fmt"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// SetEgress replaces the outbound rules of team's sandbox: recorded on its
// row (a resumed or restarted sandbox keeps them) and applied at once to the
// running sandbox when this node runs it. Lists are validated first; errors
// name the entry ("deny_out[1]").
func (s *Service) SetEgress(ctx context.Context, team id.TeamID, sb id.SandboxID, e sandbox.Egress) (db.Sandbox, error) {
	if _, _, err := sandbox.ParseEgress(e); err != nil {
		return db.Sandbox{}, err
	}
	row, err := s.Get(ctx, team, sb)
	if err != nil {
		return db.Sandbox{}, err
	}
	if row.Status != string(StatusRunning) {
		return db.Sandbox{}, fmt.Errorf("sandbox %s: %w: it is %s, not running", sb, sandbox.ErrConflict, row.Status)
	}
	if o, err := s.remote(ctx, row); err != nil {
		return db.Sandbox{}, err
	} else if o != nil {
		// Peers have no call for it yet: refuse rather than record rules
		// that would not hold until the sandbox restarts.
		return db.Sandbox{}, fmt.Errorf("sandbox %s: %w: egress rules change only through the node that runs it", sb, sandbox.ErrConflict)
	}
	updated, err := s.st.SetSandboxEgress(ctx, db.SetSandboxEgressParams{ID: sb, TeamID: team, AllowOut: nonNil(e.Allow), DenyOut: nonNil(e.Deny)})
	if errors.Is(store.Map(err), store.ErrNotFound) {
		return db.Sandbox{}, fmt.Errorf("sandbox %s: %w: it ended meanwhile", sb, sandbox.ErrConflict)
	}
	if err != nil {
		return db.Sandbox{}, store.Map(err)
	}
	if err := s.mgr.SetEgress(ctx, sb.String(), row.AllowInternetAccess, e); err != nil {
		// Put the recorded rules back: the row says what is enforced.
		_, rerr := s.st.SetSandboxEgress(context.WithoutCancel(ctx), db.SetSandboxEgressParams{ID: sb, TeamID: team, AllowOut: row.AllowOut, DenyOut: row.DenyOut})
		return db.Sandbox{}, errors.Join(err, store.Map(rerr))
	}
	return updated, nil
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

package access

import (
	"context"
	"errors"
	"fmt"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// ErrBadToken: the access token presented is not the sandbox's.
var ErrBadToken = errors.New("not this sandbox's access token")

// Sandboxes is what Authorizer needs of the store: the sandbox's row, for
// the team that owns it.
type Sandboxes interface {
	GetSandbox(ctx context.Context, sb id.SandboxID) (db.Sandbox, error)
}

// Authorizer returns the check of an access token as callers that name a
// sandbox, not a team, need it (envd, the host form of the ports proxy):
// the team that owns sb when tok is sb's token; ErrBadToken when it is
// not; an error wrapping store.ErrNotFound when there is no such sandbox.
func (s *Signer) Authorizer(st Sandboxes) func(ctx context.Context, sb id.SandboxID, tok string) (id.TeamID, error) {
	return func(ctx context.Context, sb id.SandboxID, tok string) (id.TeamID, error) {
		row, err := st.GetSandbox(ctx, sb)
		if err != nil {
			// A token not even of generation 0 is refused as before the
			// lookup, so a bad token tells nothing of whether sb exists.
			if !s.CheckAccessToken(sb, tok) {
				return id.TeamID{}, ErrBadToken
			}
			return id.TeamID{}, fmt.Errorf("access: sandbox %s: %w", sb, store.Map(err))
		}
		if !s.CheckAccessTokenGen(sb, row.TokenGen, tok) {
			return id.TeamID{}, ErrBadToken
		}
		return row.TeamID, nil
	}
}

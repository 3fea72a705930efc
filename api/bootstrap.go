package api

import (
	"context"
	"fmt"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// BootstrapInfo is what the first start of a cluster prints once and writes to
// <data-dir>/bootstrap.json.
type BootstrapInfo struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	APIKey   string `json:"api_key"`
	// E2BAPIKey is a team (non-admin) key in E2B's form, for the E2B SDKs
	// (E2B_API_KEY); it works on Warren's API too.
	E2BAPIKey string    `json:"e2b_api_key"`
	TeamID    id.TeamID `json:"team_id"`
	// URL is where the node that bootstrapped serves the API (set by the node).
	URL string `json:"url,omitempty"`
}

// bootstrapLockID serializes bootstraps of nodes starting together.
const bootstrapLockID = 0x77617272656f

// Bootstrap creates the first admin user, a team "default" they own, and an admin
// API key for that team — only when the database has no user yet. It answers nil
// when the cluster was already bootstrapped.
func Bootstrap(ctx context.Context, st *store.Store, email string) (*BootstrapInfo, error) {
	if email == "" {
		email = "admin@warren.local"
	}
	var info *BootstrapInfo
	err := st.Tx(ctx, func(q *db.Queries) error {
		if err := q.AdvisoryXactLock(ctx, bootstrapLockID); err != nil {
			return store.Map(err)
		}
		n, err := q.CountUsers(ctx)
		if err != nil || n > 0 {
			return store.Map(err)
		}
		password := NewPassword()
		hash, err := hashPassword(password)
		if err != nil {
			return err
		}
		u, err := q.CreateUser(ctx, db.CreateUserParams{ID: id.NewUserID(), Email: email, PasswordHash: hash, IsAdmin: true})
		if err != nil {
			return store.Map(err)
		}
		t, err := q.CreateTeam(ctx, db.CreateTeamParams{ID: id.NewTeamID(), Name: "default"})
		if err != nil {
			return store.Map(err)
		}
		if err := q.AddTeamMember(ctx, db.AddTeamMemberParams{TeamID: t.ID, UserID: u.ID, Role: "owner"}); err != nil {
			return store.Map(err)
		}
		secret, keyHash, display := newAPIKey(keyFormatWarren)
		uid := u.ID.UUID()
		if _, err := q.CreateAPIKey(ctx, db.CreateAPIKeyParams{ID: id.NewAPIKeyID(), TeamID: t.ID, Name: "bootstrap",
			KeyHash: keyHash, Prefix: display, IsAdmin: true, CreatedBy: &uid}); err != nil {
			return store.Map(err)
		}
		e2bSecret, e2bHash, e2bDisplay := newAPIKey(keyFormatE2B)
		if _, err := q.CreateAPIKey(ctx, db.CreateAPIKeyParams{ID: id.NewAPIKeyID(), TeamID: t.ID, Name: "bootstrap-e2b",
			KeyHash: e2bHash, Prefix: e2bDisplay, CreatedBy: &uid}); err != nil {
			return store.Map(err)
		}
		info = &BootstrapInfo{Email: email, Password: password, APIKey: secret, E2BAPIKey: e2bSecret, TeamID: t.ID}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bootstrapping the admin: %w", err)
	}
	return info, nil
}

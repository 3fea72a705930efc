package client

import (
	"context"
	"net/http"
)

// Health calls /healthz (no credentials needed).
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	return h, c.do(ctx, http.MethodGet, "/healthz", nil, nil, &h)
}

// Ready calls /readyz: an error when the node cannot reach Postgres.
func (c *Client) Ready(ctx context.Context) (Health, error) {
	var h Health
	return h, c.do(ctx, http.MethodGet, "/readyz", nil, nil, &h)
}

// Me says who the client's credentials act as.
func (c *Client) Me(ctx context.Context) (Me, error) {
	var m Me
	return m, c.do(ctx, http.MethodGet, "/v1/me", nil, nil, &m)
}

// ListAPIKeys lists the team's API keys.
func (c *Client) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	var p Page[APIKey]
	return p.Items, c.do(ctx, http.MethodGet, "/v1/api-keys", nil, nil, &p)
}

// CreateAPIKeyRequest asks for a new team key. ExpiresInDays 0 never expires;
// Admin keys may only be made by admins.
type CreateAPIKeyRequest struct {
	Name          string `json:"name"`
	ExpiresInDays int    `json:"expires_in_days,omitempty"`
	Admin         bool   `json:"admin,omitempty"`
}

// CreateAPIKey makes a team key; the secret is in the answer only.
func (c *Client) CreateAPIKey(ctx context.Context, req CreateAPIKeyRequest) (CreatedAPIKey, error) {
	var k CreatedAPIKey
	return k, c.do(ctx, http.MethodPost, "/v1/api-keys", nil, req, &k)
}

// RevokeAPIKey revokes a team key.
func (c *Client) RevokeAPIKey(ctx context.Context, keyID string) (APIKey, error) {
	var k APIKey
	return k, c.do(ctx, http.MethodDelete, "/v1/api-keys/"+seg(keyID), nil, nil, &k)
}

// ListUsers lists every user (admin).
func (c *Client) ListUsers(ctx context.Context) ([]User, error) {
	var p Page[User]
	return p.Items, c.do(ctx, http.MethodGet, "/v1/admin/users", nil, nil, &p)
}

// CreateUserRequest creates a user, optionally in a team with a role
// (owner or member, default member).
type CreateUserRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	IsAdmin  bool   `json:"is_admin,omitempty"`
	TeamID   string `json:"team_id,omitempty"`
	Role     string `json:"role,omitempty"`
}

// CreateUser creates a user (admin).
func (c *Client) CreateUser(ctx context.Context, req CreateUserRequest) (User, error) {
	var u User
	return u, c.do(ctx, http.MethodPost, "/v1/admin/users", nil, req, &u)
}

// SetUserDisabled disables (ending their sessions) or enables a user (admin).
func (c *Client) SetUserDisabled(ctx context.Context, userID string, disabled bool) (User, error) {
	var u User
	return u, c.do(ctx, http.MethodPost, "/v1/admin/users/"+seg(userID)+"/"+onOff(disabled), nil, nil, &u)
}

// ListTeams lists every team (admin).
func (c *Client) ListTeams(ctx context.Context) ([]Team, error) {
	var p Page[Team]
	return p.Items, c.do(ctx, http.MethodGet, "/v1/admin/teams", nil, nil, &p)
}

// CreateTeam creates a team (admin).
func (c *Client) CreateTeam(ctx context.Context, name string) (Team, error) {
	var t Team
	return t, c.do(ctx, http.MethodPost, "/v1/admin/teams", nil, map[string]string{"name": name}, &t)
}

// SetTeamDisabled disables or enables a team (admin).
func (c *Client) SetTeamDisabled(ctx context.Context, teamID string, disabled bool) (Team, error) {
	var t Team
	return t, c.do(ctx, http.MethodPost, "/v1/admin/teams/"+seg(teamID)+"/"+onOff(disabled), nil, nil, &t)
}

func onOff(disabled bool) string {
	if disabled {
		return "disable"
	}
	return "enable"
}

package api

import (
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store/db"
)

// The JSON shapes of resources. IDs appear only in their prefixed wire form.

type userView struct {
	ID        id.UserID `json:"id"`
	Email     string    `json:"email"`
	IsAdmin   bool      `json:"is_admin"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

func viewUser(u db.User) userView {
	return userView{ID: u.ID, Email: u.Email, IsAdmin: u.IsAdmin, Disabled: u.Disabled, CreatedAt: u.CreatedAt}
}

type teamView struct {
	ID        id.TeamID `json:"id"`
	Name      string    `json:"name"`
	Disabled  bool      `json:"disabled"`
	Role      string    `json:"role,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func viewTeam(t db.Team) teamView {
	return teamView{ID: t.ID, Name: t.Name, Disabled: t.Disabled, CreatedAt: t.CreatedAt}
}

type apiKeyView struct {
	ID         id.APIKeyID `json:"id"`
	Name       string      `json:"name"`
	Prefix     string      `json:"prefix"`
	Admin      bool        `json:"admin"`
	CreatedAt  time.Time   `json:"created_at"`
	LastUsedAt *time.Time  `json:"last_used_at"`
	ExpiresAt  *time.Time  `json:"expires_at"`
	RevokedAt  *time.Time  `json:"revoked_at"`
}

func viewAPIKey(k db.ApiKey) apiKeyView {
	return apiKeyView{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Admin: k.IsAdmin, CreatedAt: k.CreatedAt,
		LastUsedAt: k.LastUsedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt}
}

type listResponse[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func list[T any](items []T) listResponse[T] {
	if items == nil {
		items = []T{}
	}
	return listResponse[T]{Items: items}
}

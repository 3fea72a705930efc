package api

import (
	"net/http"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

func (s *Server) teamRoutes() []route {
	return []route{
		{method: "GET", pattern: "/v1/me", access: team, summary: "Who the credentials act as: the team, the user (for sessions), the key (for API keys).", resp: meResponse{}, handler: s.me},
		{method: "GET", pattern: "/v1/api-keys", access: team, summary: "List the team's API keys (secrets are never shown again).", resp: listResponse[apiKeyView]{}, handler: s.listAPIKeys},
		{method: "POST", pattern: "/v1/api-keys", access: team, summary: "Create a team API key; the secret is in the answer once.", req: createAPIKeyRequest{}, resp: createAPIKeyResponse{}, status: http.StatusCreated, handler: s.createAPIKey},
		{method: "DELETE", pattern: "/v1/api-keys/{id}", access: team, summary: "Revoke a team API key.", resp: apiKeyView{}, handler: s.revokeAPIKey},
	}
}

type meResponse struct {
	Team      teamView    `json:"team"`
	Admin     bool        `json:"admin"`
	User      *userView   `json:"user,omitempty"`
	Teams     []teamView  `json:"teams,omitempty"`
	APIKey    *apiKeyView `json:"api_key,omitempty"`
	CSRFToken string      `json:"csrf_token,omitempty"`
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	ctx := r.Context()
	t, err := s.store.GetTeam(ctx, p.TeamID)
	if err != nil {
		writeError(w, r, s.log, store.Map(err))
		return
	}
	resp := meResponse{Team: viewTeam(t), Admin: p.Admin}
	if p.ByCookie {
		u, err := s.store.GetUser(ctx, p.UserID)
		if err != nil {
			writeError(w, r, s.log, store.Map(err))
			return
		}
		uv := viewUser(u)
		resp.User = &uv
		resp.CSRFToken = p.csrf
		teams, err := s.store.ListUserTeams(ctx, p.UserID)
		if err != nil {
			writeError(w, r, s.log, store.Map(err))
			return
		}
		for _, t := range teams {
			tv := teamView{ID: t.ID, Name: t.Name, Disabled: t.Disabled, Role: t.Role, CreatedAt: t.CreatedAt}
			resp.Teams = append(resp.Teams, tv)
		}
	}
	if !p.KeyID.IsZero() {
		keys, err := s.store.ListAPIKeys(ctx, p.TeamID)
		if err != nil {
			writeError(w, r, s.log, store.Map(err))
			return
		}
		for _, k := range keys {
			if k.ID == p.KeyID {
				kv := viewAPIKey(k)
				resp.APIKey = &kv
			}
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.store.ListAPIKeys(r.Context(), principalFrom(r.Context()).TeamID)
	if err != nil {
		writeError(w, r, s.log, store.Map(err))
		return
	}
	out := make([]apiKeyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, viewAPIKey(k))
	}
	writeJSON(w, http.StatusOK, list(out))
}

type createAPIKeyRequest struct {
	Name          string `json:"name"`
	ExpiresInDays int    `json:"expires_in_days,omitempty"` // 0: never
	Admin         bool   `json:"admin,omitempty"`           // only admins may create admin keys
	Format        string `json:"format,omitempty"`          // "warren" (wk_…, default) or "e2b" (e2b_ + 40 hex)
}

func (q *createAPIKeyRequest) validate() error {
	if err := checkText("name", q.Name, 1, 128, false); err != nil {
		return err
	}
	switch q.Format {
	case "", keyFormatWarren, keyFormatE2B:
	default:
		return errInvalid("format", "must be %q or %q", keyFormatWarren, keyFormatE2B)
	}
	if q.ExpiresInDays != 0 {
		return checkRange("expires_in_days", int64(q.ExpiresInDays), 1, 3650)
	}
	return nil
}

type createAPIKeyResponse struct {
	apiKeyView
	Key string `json:"key"`
}

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) {
	var req createAPIKeyRequest
	if err := decode(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	p := principalFrom(r.Context())
	if req.Admin && !p.Admin {
		writeError(w, r, s.log, &Error{Status: http.StatusForbidden, Code: "permission_denied", Message: "admin: only admins may create admin keys"})
		return
	}
	k, secret, err := createKey(r, s.store.Queries, p.TeamID, req.Name, req.Admin, p.UserID, req.ExpiresInDays, req.Format)
	if err != nil {
		writeError(w, r, s.log, mapStore(err, "api key"))
		return
	}
	s.audit(r, "api_key.create", "api_key", k.ID.String(), nil)
	writeJSON(w, http.StatusCreated, createAPIKeyResponse{apiKeyView: viewAPIKey(k), Key: secret})
}

// createKey makes a key of format for team; creator may be zero.
func createKey(r *http.Request, q *db.Queries, team id.TeamID, name string, isAdmin bool, creator id.UserID, expiresInDays int, format string) (db.ApiKey, string, error) {
	secret, hash, display := newAPIKey(format)
	params := db.CreateAPIKeyParams{ID: id.NewAPIKeyID(), TeamID: team, Name: name, KeyHash: hash, Prefix: display, IsAdmin: isAdmin}
	if !creator.IsZero() {
		u := creator.UUID()
		params.CreatedBy = &u
	}
	if expiresInDays > 0 {
		t := time.Now().Add(time.Duration(expiresInDays) * 24 * time.Hour)
		params.ExpiresAt = &t
	}
	k, err := q.CreateAPIKey(r.Context(), params)
	return k, secret, store.Map(err)
}

func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	kid, err := pathID(r, "id", id.ParseAPIKeyID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	k, err := s.store.RevokeAPIKey(r.Context(), db.RevokeAPIKeyParams{ID: kid, TeamID: principalFrom(r.Context()).TeamID})
	if err != nil {
		writeError(w, r, s.log, mapStore(store.Map(err), "api key"))
		return
	}
	s.audit(r, "api_key.revoke", "api_key", k.ID.String(), nil)
	writeJSON(w, http.StatusOK, viewAPIKey(k))
}

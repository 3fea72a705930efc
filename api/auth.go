package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox/timing"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// Principal is who a request acts as: a team (always), through either a team API
// key or a user's session.
type Principal struct {
	TeamID   id.TeamID
	UserID   id.UserID   // zero for API keys not created by a user
	KeyID    id.APIKeyID // zero for sessions
	Admin    bool
	Email    string
	ByCookie bool
	csrf     string
}

// Actor names the principal in audit logs.
func (p *Principal) Actor() (typ, actorID string) {
	if !p.KeyID.IsZero() {
		return "api_key", p.KeyID.String()
	}
	return "user", p.UserID.String()
}

func principalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey).(*Principal)
	return p
}

const sessionCookie = "warren_session"

// authenticate resolves the request's credentials: an API key in
// "Authorization: Bearer wk_…" (or e2b_…) or "X-API-Key", else the session cookie. Cookie
// requests that change state must carry the session's X-CSRF-Token.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(timing.Header) == "1" {
			// Asked for the phases (Server-Timing): sandbox creates answer them.
			ctx, _ := timing.With(r.Context())
			r = r.WithContext(ctx)
		}
		end := timing.Start(r.Context(), "auth")
		p, err := s.principal(r)
		end()
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if p.ByCookie && !safeMethod(r.Method) &&
			subtle.ConstantTimeCompare([]byte(r.Header.Get("X-CSRF-Token")), []byte(p.csrf)) != 1 {
			writeError(w, r, s.log, errCSRF)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func (s *Server) principal(r *http.Request) (*Principal, error) {
	ctx := r.Context()
	key := r.Header.Get("X-API-Key")
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, errUnauthenticated
		}
		key = strings.TrimSpace(tok)
	}
	if key != "" {
		return s.keyPrincipal(ctx, key)
	}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		return s.sessionPrincipal(ctx, r, c.Value)
	}
	return nil, errUnauthenticated
}

func (s *Server) keyPrincipal(ctx context.Context, key string) (*Principal, error) {
	if !keyForm(key) {
		return nil, errUnauthenticated
	}
	k, err := s.store.GetAPIKeyByHash(ctx, hashSecret(key))
	if err != nil {
		if errors.Is(store.Map(err), store.ErrNotFound) {
			return nil, errUnauthenticated
		}
		return nil, store.Map(err)
	}
	now := time.Now()
	if k.RevokedAt != nil || (k.ExpiresAt != nil && !k.ExpiresAt.After(now)) || k.TeamDisabled || k.CreatorDisabled {
		return nil, errUnauthenticated
	}
	if s.touched.due(k.ID, now) {
		_ = s.store.TouchAPIKey(ctx, k.ID) // best effort; writes at most once a minute per key
	}
	p := &Principal{TeamID: k.TeamID, KeyID: k.ID, Admin: k.IsAdmin}
	if k.CreatedBy != nil {
		p.UserID = id.UserID(*k.CreatedBy)
	}
	return p, nil
}

func (s *Server) sessionPrincipal(ctx context.Context, r *http.Request, token string) (*Principal, error) {
	sess, err := s.store.GetSession(ctx, hashSecret(token))
	if err != nil {
		if errors.Is(store.Map(err), store.ErrNotFound) {
			return nil, errUnauthenticated
		}
		return nil, store.Map(err)
	}
	if sess.UserDisabled {
		return nil, errUnauthenticated
	}
	teams, err := s.store.ListUserTeams(ctx, sess.UserID)
	if err != nil {
		return nil, store.Map(err)
	}
	p := &Principal{UserID: sess.UserID, Admin: sess.IsAdmin, Email: sess.Email, ByCookie: true, csrf: sess.CsrfToken}
	want, field := r.Header.Get("X-Warren-Team"), "X-Warren-Team"
	if want == "" && isWebSocket(r) {
		// Browsers cannot send headers on a WebSocket: the team comes in
		// the query instead.
		want, field = r.URL.Query().Get("team"), "team"
	}
	for _, t := range teams {
		if t.Disabled {
			continue
		}
		if want == "" || want == t.ID.String() {
			p.TeamID = t.ID
			break
		}
	}
	if p.TeamID.IsZero() {
		if want != "" {
			return nil, errInvalid(field, "you are not a member of team %q", want)
		}
		return nil, &Error{Status: http.StatusForbidden, Code: "permission_denied", Message: "your user belongs to no active team"}
	}
	return p, nil
}

// requireAdmin answers 403 to non-admin principals.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := principalFrom(r.Context()); p == nil || !p.Admin {
			writeError(w, r, s.log, errForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// audit records an action by the request's principal; failures are logged only.
func (s *Server) audit(r *http.Request, action, resourceType, resourceID string, details []byte) {
	p := principalFrom(r.Context())
	params := db.InsertAuditParams{Action: action, ResourceType: resourceType, ResourceID: resourceID,
		RequestID: RequestID(r.Context()), Details: details, ActorType: "system", ActorID: "anonymous"}
	if params.Details == nil {
		params.Details = []byte("{}")
	}
	if p != nil {
		t := p.TeamID.UUID()
		params.TeamID = &t
		params.ActorType, params.ActorID = p.Actor()
	}
	s.insertAudit(params)
}

// insertAudit writes an audit row, detached from the request; failures are
// logged only.
func (s *Server) insertAudit(params db.InsertAuditParams) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.store.InsertAudit(ctx, params); err != nil {
		s.log.Warn("audit log write failed", "request_id", params.RequestID, "action", params.Action, "err", err)
	}
}

// ErrInvalidAPIKey is APIKeyTeam's answer for a key that is unknown, revoked,
// expired, or whose team or creator is disabled.
var ErrInvalidAPIKey = errors.New("missing or invalid API key")

// APIKeyTeam returns the team an API key (either form) acts for and the key's
// ID, for other front ends (the E2B API) that authenticate the way this one
// does. ErrInvalidAPIKey when the key does not authenticate; other errors are
// internal (store.ErrUnavailable when the database is down).
func (s *Server) APIKeyTeam(ctx context.Context, key string) (id.TeamID, id.APIKeyID, error) {
	p, err := s.keyPrincipal(ctx, key)
	if errors.Is(err, errUnauthenticated) {
		return id.TeamID{}, id.APIKeyID{}, ErrInvalidAPIKey
	}
	if err != nil {
		return id.TeamID{}, id.APIKeyID{}, err
	}
	return p.TeamID, p.KeyID, nil
}

// AuditAPIKey records an action on a sandbox by API key of team, for other
// front ends (the E2B API) whose calls belong in the same audit log.
func (s *Server) AuditAPIKey(requestID string, team id.TeamID, key id.APIKeyID, action string, sb id.SandboxID) {
	t := team.UUID()
	s.insertAudit(db.InsertAuditParams{Action: action, ResourceType: "sandbox", ResourceID: sb.String(), RequestID: requestID,
		Details: []byte("{}"), ActorType: "api_key", ActorID: key.String(), TeamID: &t})
}

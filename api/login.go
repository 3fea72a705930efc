package api

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

func (s *Server) authRoutes() []route {
	return []route{
		{method: "POST", pattern: "/v1/auth/login", access: public, summary: "Log in with email and password; sets an HttpOnly, SameSite=Strict session cookie. Failed attempts are rate-limited (429).",
			req: loginRequest{}, resp: loginResponse{}, handler: s.login},
		{method: "POST", pattern: "/v1/auth/logout", access: team, summary: "End the session and clear its cookie.", status: http.StatusNoContent, handler: s.logout},
	}
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (q *loginRequest) validate() error {
	if err := checkText("email", q.Email, 3, 254, false); err != nil {
		return err
	}
	if q.Password == "" {
		return errInvalid("password", "is required")
	}
	if len(q.Password) > 1024 {
		return errInvalid("password", "must be at most 1024 bytes")
	}
	return nil
}

type loginResponse struct {
	User      userView `json:"user"`
	CSRFToken string   `json:"csrf_token"`
	ExpiresAt string   `json:"expires_at"`
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decode(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	now := time.Now()
	keys := []string{"addr:" + clientAddr(r), "email:" + strings.ToLower(req.Email)}
	for _, k := range keys {
		if blocked, wait := s.logins.blocked(k, now); blocked {
			writeError(w, r, s.log, &Error{Status: http.StatusTooManyRequests, Code: "rate_limited",
				Message: "too many failed logins; try again later", RetryAfter: int(wait.Seconds()) + 1})
			return
		}
	}
	u, err := s.store.GetUserByEmail(r.Context(), req.Email)
	if err != nil && !errors.Is(store.Map(err), store.ErrNotFound) {
		writeError(w, r, s.log, store.Map(err))
		return
	}
	hash := dummyHash()
	if err == nil {
		hash = u.PasswordHash
	}
	if !checkPassword(hash, req.Password) || err != nil || u.Disabled {
		for _, k := range keys {
			s.logins.fail(k, now)
		}
		writeError(w, r, s.log, &Error{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: "wrong email or password"})
		return
	}
	for _, k := range keys {
		s.logins.reset(k)
	}
	token, csrf := randomToken(32), randomToken(18)
	expires := now.Add(s.cfg.SessionTTL)
	if err := s.store.CreateSession(r.Context(), db.CreateSessionParams{
		TokenHash: hashSecret(token), UserID: u.ID, CsrfToken: csrf, ExpiresAt: expires,
	}); err != nil {
		writeError(w, r, s.log, store.Map(err))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", Expires: expires,
		MaxAge: int(s.cfg.SessionTTL.Seconds()), HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookie(r)})
	writeJSON(w, http.StatusOK, loginResponse{User: viewUser(u), CSRFToken: csrf, ExpiresAt: expires.UTC().Format(time.RFC3339)})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil && principalFrom(r.Context()).ByCookie {
		if err := s.store.DeleteSession(r.Context(), hashSecret(c.Value)); err != nil {
			writeError(w, r, s.log, store.Map(err))
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secureCookie(r)})
	w.WriteHeader(http.StatusNoContent)
}

// secureCookie reports whether the session cookie gets the Secure flag: when
// the node is configured so (it sits behind TLS) or this request came over TLS.
func (s *Server) secureCookie(r *http.Request) bool {
	return s.cfg.SecureCookies || r.TLS != nil
}

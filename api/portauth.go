package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/warrenhq/warren/access"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store"
)

// portAuth authenticates a host-form request to port of sandbox sb and
// returns the team it acts for. It accepts, in this order: a team API key
// (Authorization: Bearer or X-API-Key; the sandbox must then be that team's,
// which the dial checks), the sandbox's access token (X-Access-Token, or
// E2B's e2b-traffic-access-token), or a signed URL for this sandbox and
// port that has not expired. The first credential present decides: a wrong
// one is refused, not passed over. A cookie never authenticates.
func (s *Server) portAuth(r *http.Request, sb id.SandboxID, port int) (id.TeamID, error) {
	ctx := r.Context()
	key := r.Header.Get("X-API-Key")
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		key = strings.TrimSpace(tok)
	}
	if key != "" {
		p, err := s.keyPrincipal(ctx, key)
		if err != nil {
			return id.TeamID{}, portAuthErr(err, "the API key is not valid")
		}
		return p.TeamID, nil
	}
	tok := r.Header.Get("X-Access-Token")
	if tok == "" {
		tok = r.Header.Get("E2b-Traffic-Access-Token")
	}
	if tok != "" {
		if s.cfg.Signer == nil || !s.cfg.Signer.CheckAccessToken(sb, tok) {
			return id.TeamID{}, unauthenticated("X-Access-Token: not this sandbox's access token")
		}
		return s.sandboxTeam(ctx, sb)
	}
	if s.cfg.Signer != nil {
		switch err := s.cfg.Signer.CheckPortURL(sb, port, r.URL.Query(), time.Now()); {
		case err == nil:
			return s.sandboxTeam(ctx, sb)
		case errors.Is(err, access.ErrExpired):
			return id.TeamID{}, unauthenticated("the signed URL has expired; sign a new one (POST /v1/sandboxes/{id}/ports/{port}/url)")
		case errors.Is(err, access.ErrBadSignature):
			return id.TeamID{}, unauthenticated("the URL's signature is not valid for this sandbox and port")
		}
	}
	if r.Header.Get("Cookie") != "" {
		return id.TeamID{}, unauthenticated("cookies never authenticate requests to a sandbox's port: any page could make a browser send them; " +
			"use an API key (Authorization: Bearer or X-API-Key), the sandbox's access token (X-Access-Token) or a signed URL")
	}
	return id.TeamID{}, unauthenticated("a sandbox's port needs an API key (Authorization: Bearer or X-API-Key), " +
		"the sandbox's access token (X-Access-Token) or a signed URL")
}

func unauthenticated(msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: msg}
}

// portAuthErr keeps the message of a refused credential specific and lets
// other errors (the database being down) through as they are.
func portAuthErr(err error, msg string) error {
	if errors.Is(err, errUnauthenticated) {
		return unauthenticated(msg)
	}
	return err
}

// sandboxTeam is the team that owns sb (for credentials that name a sandbox
// rather than a team).
func (s *Server) sandboxTeam(ctx context.Context, sb id.SandboxID) (id.TeamID, error) {
	row, err := s.store.GetSandbox(ctx, sb)
	if err != nil {
		return id.TeamID{}, mapStore(store.Map(err), "sandbox")
	}
	return row.TeamID, nil
}

// stripSignature removes the signed URL's parameters from a raw query,
// leaving every other byte of it as the client sent it.
func stripSignature(raw string) string {
	if raw == "" {
		return raw
	}
	var kept []string
	for _, part := range strings.Split(raw, "&") {
		k, _, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil && (uk == access.ExpiresParam || uk == access.SignatureParam) {
			continue
		}
		kept = append(kept, part)
	}
	return strings.Join(kept, "&")
}

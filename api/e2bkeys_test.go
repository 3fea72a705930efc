package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store/storetest"
)

var e2bKeyForm = regexp.MustCompile(`^e2b_[0-9a-f]{40}$`)

// TestE2BKeys: POST /v1/api-keys mints E2B-form keys on request, they work
// as Bearer and X-API-Key, the bootstrap made one, and APIKeyTeam (the E2B
// API's authenticator) accepts both forms and refuses the rest.
func TestE2BKeys(t *testing.T) {
	e := newEnv(t)
	if !e2bKeyForm.MatchString(e.admin.E2BAPIKey) {
		t.Fatalf("bootstrap e2b_api_key %q is not e2b_ + 40 hex", e.admin.E2BAPIKey)
	}
	var me meResponse
	r := e.do("GET", "/v1/me", e.admin.E2BAPIKey, nil)
	r.json(t, &me)
	if r.status != 200 || me.Team.ID != e.admin.TeamID || me.Admin {
		t.Fatalf("bootstrap e2b key: %d team %s admin %v, want the bootstrap team, not admin", r.status, me.Team.ID, me.Admin)
	}

	r = e.do("POST", "/v1/api-keys", e.admin.APIKey, map[string]any{"name": "sdk", "format": "e2b"})
	var created createAPIKeyResponse
	r.json(t, &created)
	if r.status != http.StatusCreated || !e2bKeyForm.MatchString(created.Key) || created.Prefix != created.Key[:apiKeyDisplayLen] {
		t.Fatalf("format e2b: %d key %q prefix %q", r.status, created.Key, created.Prefix)
	}
	for _, hdr := range [][]string{{"Authorization", "Bearer " + created.Key}, {"X-API-Key", created.Key}} {
		if r := e.do("GET", "/v1/me", "", nil, hdr...); r.status != 200 {
			t.Errorf("/v1/me with the e2b key in %s: %d %s", hdr[0], r.status, r.body)
		}
	}
	r = e.do("POST", "/v1/api-keys", e.admin.APIKey, map[string]any{"name": "w", "format": "warren"})
	r.json(t, &created)
	if r.status != http.StatusCreated || created.Key[:3] != apiKeyPrefix {
		t.Fatalf("format warren: %d %q", r.status, created.Key)
	}
	r = e.do("POST", "/v1/api-keys", e.admin.APIKey, map[string]any{"name": "x", "format": "aws"})
	if r.status != 400 || r.errCode() != "invalid_argument" {
		t.Fatalf("unknown format: %d %s", r.status, r.body)
	}

	ctx := context.Background()
	for _, k := range []string{e.admin.APIKey, e.admin.E2BAPIKey} {
		if team, kid, err := e.srv.APIKeyTeam(ctx, k); err != nil || team != e.admin.TeamID || kid.IsZero() {
			t.Errorf("APIKeyTeam(%.8s…): %s %v", k, team, err)
		}
	}
	otherTeam, otherKey := e.newTeamWithKey("other")
	if team, _, err := e.srv.APIKeyTeam(ctx, otherKey); err != nil || team != otherTeam {
		t.Errorf("APIKeyTeam(other team's key): %s %v", team, err)
	}
	for _, k := range []string{"", "e2b_" + "00000000000000000000000000000000000000000", "wk_nope", "sk_e2b_abc", e.admin.E2BAPIKey + "0"} {
		if team, _, err := e.srv.APIKeyTeam(ctx, k); !errors.Is(err, ErrInvalidAPIKey) || team != (id.TeamID{}) {
			t.Errorf("APIKeyTeam(%q): %s %v, want ErrInvalidAPIKey", k, team, err)
		}
	}
	// A revoked e2b key stops working at once.
	r = e.do("POST", "/v1/api-keys", e.admin.APIKey, map[string]any{"name": "rev", "format": "e2b"})
	r.json(t, &created)
	if r := e.do("DELETE", "/v1/api-keys/"+created.ID.String(), e.admin.APIKey, nil); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if _, _, err := e.srv.APIKeyTeam(ctx, created.Key); !errors.Is(err, ErrInvalidAPIKey) {
		t.Errorf("revoked e2b key: %v", err)
	}
}

// TestE2BMount: E2B's control-plane paths reach Config.E2B, except a
// browser's page load of a UI page; Warren's own routes are untouched.
func TestE2BMount(t *testing.T) {
	st := storetest.New(t)
	cfg := DefaultConfig()
	cfg.UI = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ui")) })
	cfg.E2B = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("e2b")) })
	hs := httptest.NewServer(New(cfg, st, nil, nil, nil, nil, nil).Handler())
	t.Cleanup(hs.Close)
	for _, c := range []struct {
		method, path string
		hdr          []string
		want         string
	}{
		{"POST", "/v2/sandboxes", []string{"X-API-KEY", "e2b_x"}, "e2b"},
		{"GET", "/sandboxes", []string{"X-API-KEY", "e2b_x"}, "e2b"},
		{"GET", "/sandboxes/sb-1/metrics", nil, "e2b"},
		{"DELETE", "/sandboxes/sb-1", []string{"Accept", "text/html"}, "e2b"},
		{"GET", "/templates", []string{"Accept", "application/json"}, "e2b"},
		{"GET", "/volumecontent/v/file", nil, "e2b"},
		{"GET", "/sandboxes", []string{"Accept", "text/html,*/*"}, "ui"},
		{"GET", "/sandboxes/sb-1", []string{"Accept", "text/html"}, "ui"},
		{"GET", "/templates", []string{"Accept", "text/html"}, "ui"},
		{"GET", "/admin/teams", nil, "ui"},
	} {
		req, _ := http.NewRequest(c.method, hs.URL+c.path, nil)
		for i := 0; i+1 < len(c.hdr); i += 2 {
			req.Header.Set(c.hdr[i], c.hdr[i+1])
		}
		res, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != c.want {
			t.Errorf("%s %s %v: served by %q, want %s", c.method, c.path, c.hdr, b, c.want)
		}
	}
	if r, err := hs.Client().Get(hs.URL + "/v1/me"); err != nil || r.StatusCode != http.StatusUnauthorized {
		t.Errorf("/v1/me without credentials: %v %v", r, err)
	}
}

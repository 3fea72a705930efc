package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
	"github.com/warrenhq/warren/store/storetest"
)

func TestMain(m *testing.M) {
	bcryptCost = bcrypt.MinCost // production cost is slow under -race
	storetest.Main(m)
}

// env is an API server over a fresh database with a bootstrapped admin.
type env struct {
	t     *testing.T
	st    *store.Store
	srv   *Server
	http  *httptest.Server
	admin *BootstrapInfo
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := storetest.New(t)
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	cfg := DefaultConfig()
	cfg.LoginAttempts = 5
	srv := New(cfg, st, log, nil, nil, nil, nil)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	info, err := Bootstrap(context.Background(), st, "")
	if err != nil || info == nil {
		t.Fatalf("bootstrap: %v %v", info, err)
	}
	return &env{t: t, st: st, srv: srv, http: hs, admin: info, logs: logs}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

func (r resp) errCode() string {
	var e errorBody
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

func (e *env) do(method, path, key string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
	}
	req, _ := http.NewRequest(method, e.http.URL+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// newTeamWithKey creates a team and a non-admin key for it.
func (e *env) newTeamWithKey(name string) (id.TeamID, string) {
	e.t.Helper()
	r := e.do("POST", "/v1/admin/teams", e.admin.APIKey, map[string]any{"name": name})
	if r.status != http.StatusCreated {
		e.t.Fatalf("create team: %d %s", r.status, r.body)
	}
	var tv teamView
	r.json(e.t, &tv)
	k, secret, err := createKey(httptest.NewRequest("GET", "/", nil), e.st.Queries, tv.ID, "k", false, id.UserID{}, 0, "")
	if err != nil || k.TeamID != tv.ID {
		e.t.Fatal(err)
	}
	return tv.ID, secret
}

func TestMeWithBootstrapKey(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/v1/me", e.admin.APIKey, nil)
	if r.status != 200 {
		t.Fatalf("GET /v1/me: %d %s", r.status, r.body)
	}
	var me meResponse
	r.json(t, &me)
	if me.Team.ID != e.admin.TeamID || !me.Admin || me.APIKey == nil || me.APIKey.Name != "bootstrap" {
		t.Fatalf("me = %+v", me)
	}
	// The same key through X-API-Key.
	if r := e.do("GET", "/v1/me", "", nil, "X-API-Key", e.admin.APIKey); r.status != 200 {
		t.Fatalf("X-API-Key: %d", r.status)
	}
	for _, bad := range []string{"wk_nope", "not-a-key", strings.Repeat("x", 4000)} {
		if r := e.do("GET", "/v1/me", bad, nil); r.status != 401 || r.errCode() != "unauthenticated" {
			t.Fatalf("bad key %q: %d %s", bad[:8], r.status, r.body)
		}
	}
	// A second bootstrap does nothing.
	if info, err := Bootstrap(context.Background(), e.st, ""); err != nil || info != nil {
		t.Fatalf("second bootstrap: %v %v", info, err)
	}
}

func TestTeamIsolation(t *testing.T) {
	e := newEnv(t)
	_, keyA := e.newTeamWithKey("team-a")
	teamB, keyB := e.newTeamWithKey("team-b")
	// Team B's key, as seen by B.
	var keysB listResponse[apiKeyView]
	e.do("GET", "/v1/api-keys", keyB, nil).json(t, &keysB)
	if len(keysB.Items) != 1 {
		t.Fatalf("team b keys: %+v", keysB)
	}
	// A cannot revoke (or learn of) B's key: 404, never 403.
	r := e.do("DELETE", "/v1/api-keys/"+keysB.Items[0].ID.String(), keyA, nil)
	if r.status != 404 || strings.Contains(string(r.body), "team-b") {
		t.Fatalf("cross-team revoke: %d %s", r.status, r.body)
	}
	var keysA listResponse[apiKeyView]
	e.do("GET", "/v1/api-keys", keyA, nil).json(t, &keysA)
	for _, k := range keysA.Items {
		if k.ID == keysB.Items[0].ID {
			t.Fatal("team a lists team b's key")
		}
	}
	// A team template of B is invisible to A; platform templates are visible to both.
	mk := func(team id.TeamID, name string) {
		if _, err := e.st.CreateTemplate(context.Background(), db.CreateTemplateParams{ID: id.NewTemplateID(), TeamID: team, Name: name, Type: "image", Vcpus: 1, MemoryMb: 256}); err != nil {
			t.Fatal(err)
		}
	}
	mk(id.PlatformTeamID, "base")
	mk(teamB, "b-only")
	for key, wantB := range map[string]bool{keyA: false, keyB: true} {
		var tl listResponse[templateView]
		e.do("GET", "/v1/templates", key, nil).json(t, &tl)
		names := map[string]bool{}
		for _, tv := range tl.Items {
			names[tv.Name] = tv.Platform
		}
		if p, ok := names["base"]; !ok || !p {
			t.Errorf("platform template missing or not marked platform: %v", names)
		}
		if _, ok := names["b-only"]; ok != wantB {
			t.Errorf("b-only visible=%v, want %v", ok, wantB)
		}
	}
	// Revoking a key makes it stop working at once.
	if r := e.do("DELETE", "/v1/api-keys/"+keysB.Items[0].ID.String(), keyB, nil); r.status != 200 {
		t.Fatalf("revoke own key: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/me", keyB, nil); r.status != 401 {
		t.Fatalf("revoked key still works: %d", r.status)
	}
}

func TestAdminRoutesRefuseNonAdmins(t *testing.T) {
	e := newEnv(t)
	_, key := e.newTeamWithKey("plain")
	n := 0
	for _, rt := range e.srv.routes {
		if rt.access != admin {
			continue
		}
		n++
		path := pathParam.ReplaceAllString(rt.pattern, id.NewUserID().String())
		if r := e.do(rt.method, path, key, "{}"); r.status != 403 || r.errCode() != "permission_denied" {
			t.Errorf("%s %s as non-admin: %d %s", rt.method, rt.pattern, r.status, r.body)
		}
		if r := e.do(rt.method, path, "", "{}"); r.status != 401 {
			t.Errorf("%s %s without credentials: %d", rt.method, rt.pattern, r.status)
		}
	}
	if n < 5 {
		t.Fatalf("only %d admin routes", n)
	}
	// A non-admin cannot mint an admin key.
	if r := e.do("POST", "/v1/api-keys", key, map[string]any{"name": "x", "admin": true}); r.status != 403 {
		t.Fatalf("non-admin created an admin key: %d", r.status)
	}
}

func TestInternalErrorsAreGeneric(t *testing.T) {
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	h := Middleware(log, 1<<10)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/err":
			writeError(w, r, log, errors.New(`pq: relation "secret_table" does not exist`))
		case "/panic":
			panic("secret panic detail")
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, path := range []string{"/err", "/panic"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var body errorBody
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("%s: %s", path, b)
		}
		if res.StatusCode != 500 || body.Error.Code != "internal" || strings.Contains(string(b), "secret") {
			t.Fatalf("%s leaked or wrong: %d %s", path, res.StatusCode, b)
		}
		if !strings.HasPrefix(body.RequestID, "req-") || res.Header.Get("X-Request-ID") != body.RequestID {
			t.Fatalf("%s: request id %q / %q", path, body.RequestID, res.Header.Get("X-Request-ID"))
		}
		// The log holds the detail under the same request ID.
		found := false
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, body.RequestID) && strings.Contains(line, "secret") {
				found = true
			}
		}
		if !found {
			t.Fatalf("%s: log lacks the detail for %s:\n%s", path, body.RequestID, logs.String())
		}
	}
}

func TestDatabaseDownAnswers503(t *testing.T) {
	e := newEnv(t)
	e.st.Pool.Close()
	r := e.do("GET", "/readyz", "", nil)
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("readyz with a closed pool: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/v1/me", e.admin.APIKey, nil)
	if r.status < 500 || strings.Contains(string(r.body), "pool") {
		t.Fatalf("me with a closed pool: %d %s", r.status, r.body)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	k := e.admin.APIKey
	cases := []struct {
		name, body string
		status     int
		field      string
	}{
		{"malformed", `{"name":`, 400, ""},
		{"not an object", `[1,2]`, 400, ""},
		{"unknown field", `{"name":"x","nope":1}`, 400, "nope"},
		{"wrong type", `{"name":12}`, 400, "name"},
		{"empty name", `{"name":""}`, 400, "name"},
		{"control chars", `{"name":"a\u0000b"}`, 400, "name"},
		{"trailing data", `{"name":"x"} {}`, 400, ""},
		{"empty body", ``, 400, ""},
		{"negative expiry", `{"name":"x","expires_in_days":-1}`, 400, "expires_in_days"},
		{"huge body", `{"name":"` + strings.Repeat("a", 2<<20) + `"}`, 413, ""},
	}
	for _, c := range cases {
		r := e.do("POST", "/v1/api-keys", k, c.body)
		var eb errorBody
		_ = json.Unmarshal(r.body, &eb)
		if r.status != c.status || eb.Error.Field != c.field || eb.Error.Message == "" || eb.RequestID == "" {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
	}
	// Malformed IDs in the path name the parameter.
	r := e.do("DELETE", "/v1/api-keys/..%2f..%2fetc", k, nil)
	if r.status != 400 {
		t.Errorf("traversal id: %d %s", r.status, r.body)
	}
	r = e.do("POST", "/v1/admin/users/sb-"+id.NewSandboxID().UUID().String()+"/disable", k, nil)
	var eb errorBody
	_ = json.Unmarshal(r.body, &eb)
	if r.status != 400 || eb.Error.Field != "id" {
		t.Errorf("wrong-kind id: %d %s", r.status, r.body)
	}
}

func TestSessionLoginCSRFAndRateLimit(t *testing.T) {
	e := newEnv(t)
	login := func(pw string) resp {
		return e.do("POST", "/v1/auth/login", "", map[string]any{"email": e.admin.Email, "password": pw})
	}
	r := login(e.admin.Password)
	if r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	var lr loginResponse
	r.json(t, &lr)
	var cookie string
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == sessionCookie {
			cookie = c.Name + "=" + c.Value
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Fatalf("cookie flags: %+v", c)
			}
		}
	}
	if cookie == "" || lr.CSRFToken == "" {
		t.Fatal("no session cookie or csrf token")
	}
	if r := e.do("GET", "/v1/me", "", nil, "Cookie", cookie); r.status != 200 {
		t.Fatalf("me by cookie: %d %s", r.status, r.body)
	}
	// State-changing cookie requests need the CSRF token.
	if r := e.do("POST", "/v1/api-keys", "", map[string]any{"name": "ui"}, "Cookie", cookie); r.status != 403 {
		t.Fatalf("cookie POST without csrf: %d", r.status)
	}
	if r := e.do("POST", "/v1/api-keys", "", map[string]any{"name": "ui"}, "Cookie", cookie, "X-CSRF-Token", "wrong"); r.status != 403 {
		t.Fatalf("cookie POST with wrong csrf: %d", r.status)
	}
	if r := e.do("POST", "/v1/api-keys", "", map[string]any{"name": "ui"}, "Cookie", cookie, "X-CSRF-Token", lr.CSRFToken); r.status != 201 {
		t.Fatalf("cookie POST with csrf: %d %s", r.status, r.body)
	}
	// Logout ends the session.
	if r := e.do("POST", "/v1/auth/logout", "", nil, "Cookie", cookie, "X-CSRF-Token", lr.CSRFToken); r.status != 204 {
		t.Fatalf("logout: %d", r.status)
	}
	if r := e.do("GET", "/v1/me", "", nil, "Cookie", cookie); r.status != 401 {
		t.Fatalf("session after logout: %d", r.status)
	}
	// Brute force is rate-limited, even for the right password afterwards.
	for range 5 {
		if r := login("wrong-password"); r.status != 401 {
			t.Fatalf("wrong password: %d", r.status)
		}
	}
	r = login(e.admin.Password)
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures: %d %s", r.status, r.body)
	}
}

func TestDisabledUserAndTeam(t *testing.T) {
	e := newEnv(t)
	teamID, key := e.newTeamWithKey("t1")
	r := e.do("POST", "/v1/admin/users", e.admin.APIKey, map[string]any{"email": "u@example.test", "password": "correct horse battery", "team_id": teamID})
	if r.status != 201 {
		t.Fatalf("create user: %d %s", r.status, r.body)
	}
	var u userView
	r.json(t, &u)
	if r := e.do("POST", "/v1/admin/users", e.admin.APIKey, map[string]any{"email": "U@example.test", "password": "correct horse battery"}); r.status != 409 {
		t.Fatalf("duplicate email (case-insensitive): %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/auth/login", "", map[string]any{"email": "u@example.test", "password": "correct horse battery"}); r.status != 200 {
		t.Fatalf("user login: %d %s", r.status, r.body)
	}
	e.do("POST", "/v1/admin/users/"+u.ID.String()+"/disable", e.admin.APIKey, nil)
	if r := e.do("POST", "/v1/auth/login", "", map[string]any{"email": "u@example.test", "password": "correct horse battery"}); r.status != 401 {
		t.Fatalf("disabled user login: %d", r.status)
	}
	// A key the user made stops working while the user is disabled, and
	// works again once they are enabled.
	e.do("POST", "/v1/admin/users/"+u.ID.String()+"/enable", e.admin.APIKey, nil)
	_, userKey, err := createKey(httptest.NewRequest("GET", "/", nil), e.st.Queries, teamID, "uk", false, u.ID, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/v1/me", userKey, nil); r.status != 200 {
		t.Fatalf("enabled user's key: %d %s", r.status, r.body)
	}
	r = e.do("POST", "/v1/auth/login", "", map[string]any{"email": "u@example.test", "password": "correct horse battery"})
	var sessCookie string
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == sessionCookie {
			sessCookie = c.Name + "=" + c.Value
		}
	}
	if r.status != 200 || sessCookie == "" {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	e.do("POST", "/v1/admin/users/"+u.ID.String()+"/disable", e.admin.APIKey, nil)
	if r := e.do("GET", "/v1/me", userKey, nil); r.status != 401 {
		t.Fatalf("disabled user's key: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/me", "", nil, "Cookie", sessCookie); r.status != 401 {
		t.Fatalf("disabled user's session: %d %s", r.status, r.body)
	}
	e.do("POST", "/v1/admin/users/"+u.ID.String()+"/enable", e.admin.APIKey, nil)
	if r := e.do("GET", "/v1/me", userKey, nil); r.status != 200 {
		t.Fatalf("re-enabled user's key: %d %s", r.status, r.body)
	}
	e.do("POST", "/v1/admin/teams/"+teamID.String()+"/disable", e.admin.APIKey, nil)
	if r := e.do("GET", "/v1/me", key, nil); r.status != 401 {
		t.Fatalf("disabled team's key: %d", r.status)
	}
}

func TestOpenAPIMatchesRouter(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/v1/openapi.json", "", nil)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	r.json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	registered := map[string]bool{}
	router := e.srv.router()
	_ = chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if route == "/v1/openapi.json" || route == "/*" {
			return nil
		}
		registered[method+" "+route] = true
		return nil
	})
	for k := range registered {
		if !documented[k] {
			t.Errorf("registered but undocumented: %s", k)
		}
	}
	for k := range documented {
		if !registered[k] {
			t.Errorf("documented but not registered: %s", k)
		}
	}
	if len(registered) < 10 {
		t.Fatalf("only %d routes", len(registered))
	}
}

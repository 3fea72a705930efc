package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/access"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store/db"
	"github.com/warrenhq/warren/store/storetest"
)

func TestParseSandboxHost(t *testing.T) {
	sb := id.NewSandboxID()
	for _, c := range []struct {
		host    string
		ok      bool
		port    int
		errPart string
	}{
		{"127.0.0.1:8080", false, 0, ""},
		{"localhost:8080", false, 0, ""},
		{"localhost", false, 0, ""},
		{"[::1]:8080", false, 0, ""},
		{"example.com", false, 0, ""},
		{"evil-localhost", false, 0, ""},
		{"8000-" + sb.String() + ".localhost:8080", true, 8000, ""},
		{"8000-" + sb.String() + ".localhost", true, 8000, ""},
		{"8000-" + sb.String() + ".localhost.", true, 8000, ""},
		{"49983-" + strings.ToUpper(sb.String()) + ".LOCALHOST", true, 49983, ""},
		{"65535-" + sb.String() + ".localhost", true, 65535, ""},
		{"0-" + sb.String() + ".localhost", false, 0, "port"},
		{"65536-" + sb.String() + ".localhost", false, 0, "port"},
		{"08000-" + sb.String() + ".localhost", false, 0, "port"},
		{"+80-" + sb.String() + ".localhost", false, 0, "port"},
		{"x-" + sb.String() + ".localhost", false, 0, "port"},
		{"8000-tpl-" + strings.TrimPrefix(sb.String(), "sb-") + ".localhost", false, 0, "not a sandbox id"},
		{"8000-sb-nope.localhost", false, 0, "not a sandbox id"},
		{"foo.localhost", false, 0, "must be <port>-<sandbox id>.localhost"},
		{"a.8000-" + sb.String() + ".localhost", false, 0, "one label"},
	} {
		got, port, ok, err := parseSandboxHost(c.host, "localhost")
		if c.errPart != "" {
			e, isErr := err.(*Error)
			if !isErr || e.Status != 400 || e.Field != "host" || !strings.Contains(e.Message, c.errPart) {
				t.Errorf("%q: %v, want a 400 on host naming %q", c.host, err, c.errPart)
			}
			continue
		}
		if err != nil || ok != c.ok || port != c.port || (ok && got != sb) {
			t.Errorf("%q: %v %d %v %v", c.host, got, port, ok, err)
		}
	}
}

func TestStripSignature(t *testing.T) {
	for raw, want := range map[string]string{
		"":          "",
		"a=1&b=%2F": "a=1&b=%2F",
		"warren_expires=1&a=1&warren_signature=x": "a=1",
		"warren%5Fexpires=1&warren_signature=x&z": "z",
		"a=1&warren_signature":                    "a=1",
	} {
		if got := stripSignature(raw); got != want {
			t.Errorf("stripSignature(%q) = %q, want %q", raw, got, want)
		}
	}
}

// hostPorts is the sandbox service as the host form sees it: DialPort
// reaches addr for the team that owns the sandbox, not-found for others.
type hostPorts struct {
	Sandboxes
	addr  string
	owner map[id.SandboxID]id.TeamID
	mu    sync.Mutex
	dials []string
}

func (f *hostPorts) DialPort(ctx context.Context, team id.TeamID, sb id.SandboxID, port int) (net.Conn, error) {
	f.mu.Lock()
	f.dials = append(f.dials, fmt.Sprintf("%s:%d", sb, port))
	f.mu.Unlock()
	if f.owner[sb] != team {
		return nil, fmt.Errorf("%w: sandbox %s", sandboxes.ErrNotFound, sb)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", f.addr)
}

func (f *hostPorts) Get(_ context.Context, team id.TeamID, sb id.SandboxID) (db.Sandbox, error) {
	if f.owner[sb] != team {
		return db.Sandbox{}, fmt.Errorf("%w: sandbox %s", sandboxes.ErrNotFound, sb)
	}
	return db.Sandbox{ID: sb, TeamID: team}, nil
}

// seen is what the sandbox's server saw of a request.
type seen struct {
	Host, Path, Query string
	Header            http.Header
}

// TestHostForm: requests on <port>-<id>.<domain> reach the sandbox's port
// and never the API, with each credential in turn; credentials never reach
// the sandbox; envd and malformed hosts get their own answers.
func TestHostForm(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "planted=1; Path=/")
		w.Header().Set("Service-Worker-Allowed", "/")
		_ = json.NewEncoder(w).Encode(seen{r.Host, r.URL.Path, r.URL.RawQuery, r.Header})
	}))
	defer upstream.Close()
	info, err := Bootstrap(ctx, st, "")
	if err != nil || info == nil {
		t.Fatalf("bootstrap: %v %v", info, err)
	}
	me, err := st.GetAPIKeyByHash(ctx, hashSecret(info.APIKey))
	if err != nil {
		t.Fatal(err)
	}
	sbA, sbB := id.NewSandboxID(), id.NewSandboxID()
	for _, sb := range []id.SandboxID{sbA, sbB} {
		if _, err := st.CreateSandbox(ctx, db.CreateSandboxParams{ID: sb, TeamID: me.TeamID, TemplateName: "base",
			Vcpus: 1, MemoryMb: 64, DiskSizeMb: 1024, TimeoutSec: 60, Metadata: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	signer, err := access.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	var envdSaw http.Header
	cfg := DefaultConfig()
	cfg.Signer = signer
	cfg.Envd = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		envdSaw = r.Header.Clone()
		w.WriteHeader(299)
	})
	ports := &hostPorts{addr: upstream.Listener.Addr().String(), owner: map[id.SandboxID]id.TeamID{sbA: me.TeamID, sbB: me.TeamID}}
	srv := New(cfg, st, slog.New(slog.NewJSONHandler(io.Discard, nil)), ports, nil, nil, nil)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	e := &env{t: t, st: st, srv: srv, http: hs, admin: info, logs: &syncBuffer{}}
	hostA := "8000-" + sbA.String() + ".localhost"
	get := func(host, path string, hdr ...string) resp { return hostGet(t, hs, host, path, hdr...) }
	proxied := func(what string, r resp) seen {
		t.Helper()
		var s seen
		if r.status != 200 || json.Unmarshal(r.body, &s) != nil {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
		for _, h := range []string{"Authorization", "X-Api-Key", "X-Access-Token", "E2b-Traffic-Access-Token", "Cookie", "X-Csrf-Token"} {
			if v := s.Header.Get(h); v != "" {
				t.Errorf("%s: the sandbox saw %s: %q", what, h, v)
			}
		}
		if strings.Contains(s.Query, "warren_") {
			t.Errorf("%s: the sandbox saw the signature: %q", what, s.Query)
		}
		for _, h := range []string{"Set-Cookie", "Service-Worker-Allowed", "Content-Security-Policy"} {
			if v := r.header.Get(h); v != "" {
				t.Errorf("%s: the answer kept %s: %q", what, h, v)
			}
		}
		return s
	}

	// An API route on a sandbox host goes to the sandbox, not the API.
	s := proxied("GET /v1/me with a key", get(hostA, "/v1/me?x=1", "Authorization", "Bearer "+info.APIKey, "X-CSRF-Token", "t"))
	if s.Path != "/v1/me" || s.Query != "x=1" || s.Host != hostA {
		t.Fatalf("the sandbox saw %+v", s)
	}
	proxied("X-API-Key", get(hostA, "/", "X-API-Key", info.APIKey))
	proxied("access token", get(hostA, "/", "X-Access-Token", signer.AccessToken(sbA)))
	proxied("E2B traffic token", get(hostA, "/", "E2b-Traffic-Access-Token", signer.AccessToken(sbA)))
	sig := signer.SignPortURL(sbA, 8000, time.Now().Add(time.Minute))
	s = proxied("signed URL", get(hostA, "/a%2Fb?keep=1&"+sig+"&z", "Cookie", "warren_session=x"))
	if s.Query != "keep=1&z" || s.Path != "/a/b" {
		t.Fatalf("signed URL: the sandbox saw %+v", s)
	}

	refused := func(what string, r resp, status int, msg string) {
		t.Helper()
		if r.status != status || !strings.Contains(string(r.body), msg) {
			t.Errorf("%s: %d %s, want %d naming %q", what, r.status, r.body, status, msg)
		}
	}
	before := len(ports.dials)
	refused("no credential", get(hostA, "/"), 401, "needs an API key")
	refused("cookie only", get(hostA, "/", "Cookie", "warren_session=x"), 401, "cookies never authenticate")
	refused("bad key", get(hostA, "/", "Authorization", "Bearer wk_nope"), 401, "API key is not valid")
	refused("B's token on A", get(hostA, "/", "X-Access-Token", signer.AccessToken(sbB)), 401, "not this sandbox's access token")
	refused("A's signature for B", get("8000-"+sbB.String()+".localhost", "/?"+sig), 401, "signature is not valid")
	refused("A's signature for another port", get("8001-"+sbA.String()+".localhost", "/?"+sig), 401, "signature is not valid")
	refused("expired signature", get(hostA, "/?"+signer.SignPortURL(sbA, 8000, time.Now().Add(-time.Second))), 401, "expired")
	q, _ := url.ParseQuery(sig)
	q.Set(access.ExpiresParam, fmt.Sprint(time.Now().Add(time.Hour).Unix()))
	refused("extended expiry", get(hostA, "/?"+q.Encode()), 401, "signature is not valid")
	refused("bad port", get("0-"+sbA.String()+".localhost", "/v1/me", "Authorization", "Bearer "+info.APIKey), 400, "port")
	refused("bad id", get("8000-sb-x.localhost", "/v1/me", "Authorization", "Bearer "+info.APIKey), 400, "not a sandbox id")
	refused("other subdomain", get("www.localhost", "/v1/me", "Authorization", "Bearer "+info.APIKey), 400, "must be <port>-<sandbox id>")
	if len(ports.dials) != before {
		t.Fatalf("refused requests dialled the sandbox: %v", ports.dials[before:])
	}
	// Another team's key: its team does not own A (the dial refuses it).
	_, keyB := e.newTeamWithKey("hostb")
	refused("another team's key", get(hostA, "/", "Authorization", "Bearer "+keyB), 404, "sandbox not found")

	// envd: by host and by header; the host form names the sandbox in headers.
	r := get("49983-"+sbA.String()+".localhost", "/health", "E2b-Sandbox-Id", sbB.String())
	if r.status != 299 || envdSaw.Get("E2b-Sandbox-Id") != sbA.String() || envdSaw.Get("E2b-Sandbox-Port") != "49983" {
		t.Fatalf("envd by host: %d %v", r.status, envdSaw)
	}
	envdSaw = nil
	if r := e.do("GET", "/health", "", nil, "E2b-Sandbox-Id", sbB.String()); r.status != 299 || envdSaw.Get("E2b-Sandbox-Id") != sbB.String() {
		t.Fatalf("envd by header: %d %v", r.status, envdSaw)
	}
	// A bad E2b-Sandbox-Id for envd is envd's to refuse (in the Connect
	// protocol its client speaks); for another port the API refuses it.
	envdSaw = nil
	if r := e.do("GET", "/", "", nil, "E2b-Sandbox-Id", "nope"); r.status != 299 || envdSaw.Get("E2b-Sandbox-Id") != "nope" {
		t.Fatalf("a bad E2b-Sandbox-Id for envd: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/", "", nil, "E2b-Sandbox-Id", "nope", "E2b-Sandbox-Port", "8000"); r.status != 400 || !strings.Contains(string(r.body), "E2b-Sandbox-Id") {
		t.Fatalf("a bad E2b-Sandbox-Id: %d %s", r.status, r.body)
	}
	// The header form to another port is the API's origin: sandboxed.
	r = e.do("GET", "/x", "", nil, "E2b-Sandbox-Id", sbA.String(), "E2b-Sandbox-Port", "8000", "X-Access-Token", signer.AccessToken(sbA))
	if r.status != 200 || r.header.Get("Content-Security-Policy") != "sandbox" {
		t.Fatalf("header form to port 8000: %d %s %v", r.status, r.body, r.header)
	}
	// The API's own host is untouched.
	if r := e.do("GET", "/v1/me", info.APIKey, nil); r.status != 200 || !strings.Contains(string(r.body), "team") {
		t.Fatalf("/v1/me on the API host: %d %s", r.status, r.body)
	}

	// Without an envd handler: a clear 404.
	cfg.Envd = nil
	bare := httptest.NewServer(New(cfg, st, slog.New(slog.NewJSONHandler(io.Discard, nil)), ports, nil, nil, nil).Handler())
	defer bare.Close()
	if r := hostGet(t, bare, "49983-"+sbA.String()+".localhost", "/health"); r.status != 404 || !strings.Contains(string(r.body), "envd") {
		t.Fatalf("envd without a handler: %d %s", r.status, r.body)
	}
}

// TestPortURL: the signed URL names the host form on the API's port and
// opens the port; its TTL is checked with the field named.
func TestPortURL(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	info, err := Bootstrap(ctx, st, "")
	if err != nil || info == nil {
		t.Fatalf("bootstrap: %v %v", info, err)
	}
	me, _ := st.GetAPIKeyByHash(ctx, hashSecret(info.APIKey))
	sb := id.NewSandboxID()
	if _, err := st.CreateSandbox(ctx, db.CreateSandboxParams{ID: sb, TeamID: me.TeamID, TemplateName: "base",
		Vcpus: 1, MemoryMb: 64, DiskSizeMb: 1024, TimeoutSec: 60, Metadata: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello "+r.URL.RawQuery) }))
	defer upstream.Close()
	signer, _ := access.New(bytes.Repeat([]byte{3}, 32))
	cfg := DefaultConfig()
	cfg.Signer, cfg.SandboxDomain = signer, "Sb.Example.TEST."
	srv := New(cfg, st, slog.New(slog.NewJSONHandler(io.Discard, nil)), &hostPorts{addr: upstream.Listener.Addr().String(),
		owner: map[id.SandboxID]id.TeamID{sb: me.TeamID}}, nil, nil, nil)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	e := &env{t: t, st: st, srv: srv, http: hs, admin: info, logs: &syncBuffer{}}
	path := "/v1/sandboxes/" + sb.String() + "/ports/8000/url"
	r := e.do("POST", path, info.APIKey, map[string]any{"ttl_sec": 120})
	var v portURLView
	r.json(t, &v)
	_, apiPort, _ := net.SplitHostPort(hs.Listener.Addr().String())
	want := "http://8000-" + sb.String() + ".sb.example.test:" + apiPort + "/?"
	if r.status != 201 || !strings.HasPrefix(v.URL, want) || time.Until(v.ExpiresAt) > 121*time.Second || time.Until(v.ExpiresAt) < 100*time.Second {
		t.Fatalf("signed URL: %d %s, want a URL starting %q", r.status, r.body, want)
	}
	u, _ := url.Parse(v.URL)
	if r := hostGet(t, hs, u.Host, "/?"+u.RawQuery+"&k=v"); r.status != 200 || string(r.body) != "hello k=v" {
		t.Fatalf("opening the signed URL: %d %s", r.status, r.body)
	}
	// Other methods on that path are still the path-form proxy's.
	if r := e.do("GET", path+"?q=1", info.APIKey, nil); r.status != 200 || string(r.body) != "hello q=1" {
		t.Fatalf("GET %s through the path form: %d %s", path, r.status, r.body)
	}
	// {}: the default hour; no body or null is refused.
	for _, body := range []any{nil, "null"} {
		if r := e.do("POST", path, info.APIKey, body); r.status != 400 {
			t.Errorf("body %v: %d %s", body, r.status, r.body)
		}
	}
	r = e.do("POST", path, info.APIKey, map[string]any{})
	r.json(t, &v)
	if r.status != 201 || time.Until(v.ExpiresAt) < 59*time.Minute || time.Until(v.ExpiresAt) > time.Hour {
		t.Fatalf("default TTL: %d %s", r.status, r.body)
	}
	for _, body := range []any{map[string]any{"ttl_sec": 0}, map[string]any{"ttl_sec": 7*24*3600 + 1}, map[string]any{"ttl_sec": "x"}} {
		if r := e.do("POST", path, info.APIKey, body); r.status != 400 || !strings.Contains(string(r.body), `"field":"ttl_sec"`) {
			t.Errorf("ttl %v: %d %s", body, r.status, r.body)
		}
	}
	if r := e.do("POST", path, info.APIKey, map[string]any{"ttl": 5}); r.status != 400 {
		t.Errorf("an unknown field: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/sandboxes/"+id.NewSandboxID().String()+"/ports/8000/url", info.APIKey, "{}"); r.status != 404 {
		t.Errorf("another sandbox: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/sandboxes/"+sb.String()+"/ports/0/url", info.APIKey, "{}"); r.status != 400 || !strings.Contains(string(r.body), `"field":"port"`) {
		t.Errorf("port 0: %d %s", r.status, r.body)
	}
	if r := e.do("POST", path, "", "{}"); r.status != 401 {
		t.Errorf("no credentials: %d %s", r.status, r.body)
	}
}

// hostGet sends GET path to hs with the Host header host (and hdr pairs).
func hostGet(t *testing.T, hs *httptest.Server, host, path string, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequest("GET", hs.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

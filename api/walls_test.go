package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store/storetest"
)

// TestLoginLimiterPerAccount: failures against one account from many
// addresses lock that account; one address spraying many accounts is locked
// by its address.
func TestLoginLimiterPerAccount(t *testing.T) {
	e := newEnv(t)
	login := func(addr, email, pw string) int {
		req := httptest.NewRequest("POST", "/v1/auth/login", strings.NewReader(`{"email":"`+email+`","password":"`+pw+`"}`))
		req.RemoteAddr = addr + ":1234"
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(w, req)
		return w.Code
	}
	for i := range 5 {
		if c := login(fmt.Sprintf("192.0.2.%d", i+1), e.admin.Email, "wrong-password"); c != 401 {
			t.Fatalf("failure %d: %d", i, c)
		}
	}
	if c := login("192.0.2.99", e.admin.Email, e.admin.Password); c != 429 {
		t.Fatalf("account after 5 failures from 5 addresses, fresh address: %d, want 429", c)
	}
	for i := range 5 {
		if c := login("198.51.100.7", fmt.Sprintf("nobody%d@example.test", i), "wrong-password"); c != 401 {
			t.Fatalf("spray %d: %d", i, c)
		}
	}
	if c := login("198.51.100.7", "another@example.test", "whatever-password"); c != 429 {
		t.Fatalf("address after spraying 5 accounts: %d, want 429", c)
	}
}

// TestPortProxyRefusesCookie: a session cookie never authenticates a
// port-proxy request (a page served from the sandbox could make the browser
// send it); the check comes before any dial.
func TestPortProxyRefusesCookie(t *testing.T) {
	st := storetest.New(t)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "warren_session=planted; Path=/")
		w.Header().Add("Set-Cookie2", "x=1")
		w.Header().Set("Service-Worker-Allowed", "/")
		w.Header().Set("X-Kept", "yes")
		fmt.Fprintf(w, "cookie=%q auth=%q", r.Header.Get("Cookie"), r.Header.Get("Authorization"))
	}))
	defer upstream.Close()
	ports := &fakePorts{addr: upstream.Listener.Addr().String()}
	srv := New(DefaultConfig(), st, slog.New(slog.NewJSONHandler(io.Discard, nil)), ports, nil, nil, nil)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	info, err := Bootstrap(context.Background(), st, "")
	if err != nil || info == nil {
		t.Fatalf("bootstrap: %v %v", info, err)
	}
	e := &env{t: t, st: st, srv: srv, http: hs, admin: info, logs: &syncBuffer{}}
	r := e.do("POST", "/v1/auth/login", "", map[string]any{"email": e.admin.Email, "password": e.admin.Password})
	var cookie string
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == sessionCookie {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/me", "", nil, "Cookie", cookie); r.status != 200 {
		t.Fatalf("cookie works on the API (control): %d", r.status)
	}
	path := "/v1/sandboxes/sb-00000000-0000-0000-0000-000000000001/ports/8080/"
	r = e.do("GET", path, "", nil, "Cookie", cookie)
	if r.status != 403 || !strings.Contains(string(r.body), "API key") || ports.dials.Load() != 0 {
		t.Fatalf("cookie-authenticated proxy request: %d %s (dials %d)", r.status, r.body, ports.dials.Load())
	}
	// With a key (and a cookie beside it) the request goes through; neither
	// credential reaches the sandbox and its cookie/service-worker headers
	// are dropped, the content sandboxed.
	r = e.do("GET", path, e.admin.APIKey, nil, "Cookie", cookie+"; other=1")
	if r.status != 200 || string(r.body) != `cookie="" auth=""` || r.header.Get("X-Kept") != "yes" {
		t.Fatalf("key-authenticated proxy request: %d %s %v", r.status, r.body, r.header)
	}
	for _, h := range []string{"Set-Cookie", "Set-Cookie2", "Service-Worker-Allowed"} {
		if v := r.header.Values(h); len(v) > 0 {
			t.Errorf("proxied response kept %s: %q", h, v)
		}
	}
	if csp := r.header.Get("Content-Security-Policy"); csp != "sandbox" {
		t.Errorf("CSP %q, want sandbox", csp)
	}
}

// fakePorts is the sandbox service as the port proxy sees it: DialPort
// reaches addr; no other method may be called.
type fakePorts struct {
	Sandboxes
	addr  string
	dials atomic.Int32
}

func (f *fakePorts) DialPort(ctx context.Context, _ id.TeamID, _ id.SandboxID, _ int) (net.Conn, error) {
	f.dials.Add(1)
	var d net.Dialer
	return d.DialContext(ctx, "tcp", f.addr)
}

// TestSecureCookieOverTLS: a login over TLS gets a Secure session cookie
// even when the node is not configured for it.
func TestSecureCookieOverTLS(t *testing.T) {
	e := newEnv(t)
	hs := httptest.NewTLSServer(e.srv.Handler())
	defer hs.Close()
	res, err := hs.Client().Post(hs.URL+"/v1/auth/login", "application/json",
		strings.NewReader(`{"email":"`+e.admin.Email+`","password":"`+e.admin.Password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var found bool
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie {
			found = true
			if !c.Secure {
				t.Fatalf("session cookie over TLS is not Secure: %+v", c)
			}
		}
	}
	if !found {
		t.Fatalf("no session cookie over TLS: %d", res.StatusCode)
	}
	// Over plain HTTP (the default env) the flag stays off.
	r := e.do("POST", "/v1/auth/login", "", map[string]any{"email": e.admin.Email, "password": e.admin.Password})
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == sessionCookie && c.Secure {
			t.Fatalf("Secure over plain HTTP with SecureCookies off: %+v", c)
		}
	}
}

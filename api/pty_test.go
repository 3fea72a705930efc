package api

import (
	"crypto/tls"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/warrenhq/warren/id"
)

func TestParsePTYRequest(t *testing.T) {
	for _, c := range []struct {
		q     string
		field string // "" = valid
	}{
		{"", ""},
		{"cols=1&rows=4096", ""},
		{"cmd=sh&cmd=-c&cmd=exit+3&user=root", ""},
		{"cols=0", "cols"},
		{"cols=4097", "cols"},
		{"cols=-1", "cols"},
		{"cols=1e3", "cols"},
		{"rows=ten", "rows"},
		{"rows=99999999999999999999", "rows"},
		{"cmd=", "cmd"},
		{"cmd=a%00b", "cmd[0]"},
		{"cmd=sh&cmd=" + strings.Repeat("x", 64<<10), "cmd"},
		{"cmd=" + strings.Repeat("a&cmd=", 256) + "a", "cmd"},
		{"user=" + strings.Repeat("u", 65), "user"},
	} {
		q, err := url.ParseQuery(c.q)
		if err != nil {
			t.Fatal(err)
		}
		req, err := parsePTYRequest(q)
		if c.field == "" {
			if err != nil {
				t.Errorf("%.60s: %v", c.q, err)
			}
			continue
		}
		e, ok := err.(*Error)
		if !ok || e.Field != c.field || e.Status != 400 {
			t.Errorf("%.60s: %v (%+v), want a 400 on %s", c.q, err, req, c.field)
		}
	}
	req, _ := parsePTYRequest(url.Values{})
	if req.cols != 80 || req.rows != 24 || req.argv != nil {
		t.Fatalf("defaults: %+v", req)
	}
}

func TestPTYSameOrigin(t *testing.T) {
	s := &Server{}
	secure := &Server{cfg: Config{SecureCookies: true}}
	for _, c := range []struct {
		srv    *Server
		host   string
		tls    bool
		origin string
		want   bool
	}{
		{s, "api.example:8080", false, "http://api.example:8080", true},
		{s, "api.example:8080", false, "http://API.example:8080", true},
		{s, "api.example", true, "https://api.example", true},
		{s, "api.example", true, "http://api.example", false},
		{secure, "api.example", false, "http://api.example", false},
		{secure, "api.example", false, "https://api.example", true},
		{s, "api.example:8080", false, "", false},
		{s, "api.example:8080", false, "null", false},
		{s, "api.example:8080", false, "http://evil.example", false},
		{s, "api.example:8080", false, "http://api.example:8081", false},
		{s, "api.example:8080", false, "http://8080-sb-x.api.example:8080", false},
		{s, "api.example:8080", false, "http://api.example:8080/path", false},
		{s, "api.example:8080", false, "http://u@api.example:8080", false},
		{s, "api.example:8080", false, "ws://api.example:8080", false},
	} {
		r := httptest.NewRequest("GET", "http://"+c.host+"/v1/sandboxes/x/pty", nil)
		r.Host = c.host
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if got := c.srv.sameOrigin(r); got != c.want {
			t.Errorf("host %s tls %v secure %v origin %q: %v, want %v", c.host, c.tls, c.srv.cfg.SecureCookies, c.origin, got, c.want)
		}
	}
}

func TestIsWebSocket(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if isWebSocket(r) {
		t.Fatal("a plain GET is not a WebSocket")
	}
	r.Header.Set("Connection", "keep-alive, Upgrade")
	r.Header.Set("Upgrade", "WebSocket")
	if !isWebSocket(r) {
		t.Fatal("Connection: keep-alive, Upgrade with Upgrade: WebSocket is one")
	}
	r.Header.Set("Upgrade", "h2c")
	if isWebSocket(r) {
		t.Fatal("Upgrade: h2c is not a WebSocket")
	}
}

func TestPTYKeyedMutex(t *testing.T) {
	k := keyedMutex{locks: map[id.SandboxID]*keyedLock{}}
	a, b := id.NewSandboxID(), id.NewSandboxID()
	unlockA := k.lock(a)
	// Another key is not held up.
	k.lock(b)()
	var wg sync.WaitGroup
	inside := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer k.lock(a)()
			inside++ // under a's lock: the race detector checks it
		}()
	}
	unlockA()
	wg.Wait()
	if inside != 8 || len(k.locks) != 0 {
		t.Fatalf("inside %d, locks left %d", inside, len(k.locks))
	}
}

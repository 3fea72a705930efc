package ui

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func built() fstest.MapFS {
	return fstest.MapFS{
		"index.html":           {Data: []byte(`<!doctype html><div id="root"></div><script src="/assets/app-1a2b.js"></script>`)},
		"favicon.svg":          {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`)},
		"assets/app-1a2b.js":   {Data: []byte(`console.log("app")`)},
		"assets/app-1a2b.css":  {Data: []byte(`body{}`)},
		"assets/nested/x.woff": {Data: []byte(`font`)},
		".keep":                {Data: nil},
	}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, h http.Handler, method, target string) answer {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{rec.Code, rec.Result().Header, string(b)}
}

func TestServesFilesWithCacheHeaders(t *testing.T) {
	h := handlerFor(built())
	for _, tc := range []struct {
		target, cache, ctype, body string
	}{
		{"/assets/app-1a2b.js", cacheImmutable, "text/javascript; charset=utf-8", `console.log("app")`},
		{"/assets/app-1a2b.css", cacheImmutable, "text/css; charset=utf-8", `body{}`},
		{"/assets/nested/x.woff", cacheImmutable, "font/woff", "font"},
		{"/favicon.svg", cacheNone, "image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"></svg>`},
		{"/", cacheNone, "text/html; charset=utf-8", `<div id="root">`},
		{"/index.html", cacheNone, "text/html; charset=utf-8", `<div id="root">`},
	} {
		t.Run(tc.target, func(t *testing.T) {
			a := get(t, h, "GET", tc.target)
			if a.status != http.StatusOK {
				t.Fatalf("status %d, want 200", a.status)
			}
			if got := a.header.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control %q, want %q", got, tc.cache)
			}
			if got := a.header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if !strings.Contains(a.body, tc.body) {
				t.Errorf("body %q does not hold %q", a.body, tc.body)
			}
		})
	}
}

func TestSPAFallback(t *testing.T) {
	h := handlerFor(built())
	for _, target := range []string{"/sandboxes", "/sandboxes/sb-123", "/admin/templates?tab=builds", "/assets", "/a/../templates"} {
		a := get(t, h, "GET", target)
		if a.status != http.StatusOK || !strings.Contains(a.body, `<div id="root">`) {
			t.Errorf("%s: status %d body %q, want index.html", target, a.status, a.body)
		}
		if a.header.Get("Cache-Control") != cacheNone {
			t.Errorf("%s: Cache-Control %q, want %q", target, a.header.Get("Cache-Control"), cacheNone)
		}
		if !strings.Contains(a.header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("%s: no CSP on index: %q", target, a.header.Get("Content-Security-Policy"))
		}
	}
	head := get(t, h, "HEAD", "/sandboxes")
	if head.status != http.StatusOK || head.body != "" {
		t.Errorf("HEAD /sandboxes: status %d body %q", head.status, head.body)
	}
}

func TestMissingAssetIs404NotHTML(t *testing.T) {
	a := get(t, handlerFor(built()), "GET", "/assets/app-old.js")
	if a.status != http.StatusNotFound {
		t.Fatalf("status %d, want 404", a.status)
	}
	if strings.Contains(a.body, "<div") {
		t.Fatalf("answered HTML for a missing asset: %q", a.body)
	}
}

func TestAPIPathsAnswerJSON404(t *testing.T) {
	h := handlerFor(built())
	for _, target := range []string{"/v1", "/v1/", "/v1/nope", "/v1/sandboxes/sb-1/nothing", "/healthz", "/readyz", "/x/../v1/secret"} {
		for _, method := range []string{"GET", "POST", "DELETE"} {
			a := get(t, h, method, target)
			if a.status != http.StatusNotFound {
				t.Errorf("%s %s: status %d, want 404", method, target, a.status)
				continue
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s %s: Content-Type %q", method, target, ct)
			}
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal([]byte(a.body), &body); err != nil {
				t.Fatalf("%s %s: body %q: %v", method, target, a.body, err)
			}
			if body.Error.Code != "not_found" || body.Error.Message == "" {
				t.Errorf("%s %s: error %+v", method, target, body.Error)
			}
		}
	}
}

func TestRequestIDIsCarriedIntoErrors(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-ID", "req-42")
		handlerFor(built()).ServeHTTP(w, r)
	})
	a := get(t, h, "GET", "/v1/nope")
	if !strings.Contains(a.body, `"request_id":"req-42"`) {
		t.Fatalf("body %q lacks the request id", a.body)
	}
}

func TestNonGetIsRejected(t *testing.T) {
	a := get(t, handlerFor(built()), "POST", "/sandboxes")
	if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("status %d Allow %q, want 405 with Allow", a.status, a.header.Get("Allow"))
	}
	if !strings.Contains(a.body, `"method_not_allowed"`) {
		t.Fatalf("body %q", a.body)
	}
}

func TestNotBuiltPage(t *testing.T) {
	h := handlerFor(fstest.MapFS{".keep": {Data: nil}})
	for _, target := range []string{"/", "/sandboxes", "/index.html"} {
		a := get(t, h, "GET", target)
		if a.status != http.StatusOK || !strings.Contains(a.body, "make ui") {
			t.Errorf("%s: status %d body %q, want the build hint", target, a.status, a.body)
		}
		if a.header.Get("Content-Type") != "text/html; charset=utf-8" || a.header.Get("Cache-Control") != cacheNone {
			t.Errorf("%s: headers %v", target, a.header)
		}
	}
	if a := get(t, h, "GET", "/v1/me"); a.status != http.StatusNotFound {
		t.Errorf("/v1/me: status %d, want 404", a.status)
	}
}

func TestEmbeddedHandler(t *testing.T) {
	// Works whether or not the UI was built: either index.html or the build hint.
	a := get(t, Handler(), "GET", "/some/page")
	if a.status != http.StatusOK || a.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("status %d headers %v", a.status, a.header)
	}
	if !strings.Contains(a.body, `id="root"`) && !strings.Contains(a.body, "make ui") {
		t.Fatalf("body is neither the app nor the build hint: %q", a.body)
	}
}

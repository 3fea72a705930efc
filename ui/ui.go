// Package ui serves Warren's embedded web UI: the Vite + React build in dist,
// embedded into the binary. Hashed assets under /assets/ are cached for a year,
// index.html never; any other GET path that is not a file answers index.html so
// the client-side router can take it (SPA fallback), except API paths (/v1/,
// /healthz, /readyz), which answer a JSON 404. A tree whose UI was never built
// (a fresh clone) serves a page saying how to build it.
package ui

import (
	"bytes"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// Handler returns the handler that serves the embedded UI.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic("ui: dist is not embedded: " + err.Error()) // "dist" is a constant, valid path
	}
	return handlerFor(sub)
}

// handler serves one file tree; index is nil when the tree has no index.html.
type handler struct {
	fsys  fs.FS
	index []byte
}

func handlerFor(fsys fs.FS) http.Handler {
	h := &handler{fsys: fsys}
	if b, err := fs.ReadFile(fsys, "index.html"); err == nil {
		h.index = b
	}
	return h
}

const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheNone      = "no-cache"
	csp            = "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; " +
		"connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := path.Clean("/" + r.URL.Path)
	if isAPIPath(p) {
		writeError(w, http.StatusNotFound, "not_found", "no such route")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here")
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	name := strings.TrimPrefix(p, "/")
	if name != "" && name != "index.html" {
		if b, ok := h.file(name); ok {
			if strings.HasPrefix(name, "assets/") {
				w.Header().Set("Cache-Control", cacheImmutable)
			} else {
				w.Header().Set("Cache-Control", cacheNone)
			}
			http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
			return
		}
		if strings.HasPrefix(name, "assets/") {
			// A missing hashed asset is a stale page or a typo: never answer HTML for it.
			w.Header().Set("Cache-Control", cacheNone)
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
	}
	w.Header().Set("Cache-Control", cacheNone)
	w.Header().Set("Content-Security-Policy", csp)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	page := h.index
	if page == nil {
		page = notBuilt
	}
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(page))
}

// file answers the contents of a regular file in the tree.
func (h *handler) file(name string) ([]byte, bool) {
	st, err := fs.Stat(h.fsys, name)
	if err != nil || !st.Mode().IsRegular() {
		return nil, false
	}
	b, err := fs.ReadFile(h.fsys, name)
	return b, err == nil
}

func isAPIPath(p string) bool {
	return p == "/v1" || strings.HasPrefix(p, "/v1/") || p == "/healthz" || p == "/readyz"
}

// writeError answers in the API's error shape.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		RequestID string `json:"request_id,omitempty"`
	}
	body.Error.Code, body.Error.Message = code, msg
	body.RequestID = w.Header().Get("X-Request-ID")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", cacheNone)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

var notBuilt = []byte(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Warren — UI not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>Warren's web UI is not built</h1>
<p>This binary was built from a tree whose <code>ui/dist</code> is empty. Build the UI, then the binary:</p>
<pre>make ui
make build</pre>
<p>The REST API works without it: see <a href="/v1/openapi.json">/v1/openapi.json</a>.</p>
</body></html>
`)

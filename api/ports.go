package api

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/warrenhq/warren/id"
)

// The path form of the ports proxy: /v1/sandboxes/{id}/ports/{port}/… on
// the API's own origin, authenticated like any team route but never by the
// session cookie. Its answers carry CSP sandbox (an opaque origin). The host
// form (hosts.go) serves each port on an origin of its own.

func (s *Server) portRoutes() []route {
	var out []route
	for _, pattern := range []string{"/v1/sandboxes/{id}/ports/{port}", "/v1/sandboxes/{id}/ports/{port}/*"} {
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"} {
			out = append(out, route{method: m, pattern: pattern, access: team, rawBody: "*/*", rawResp: "*/*", handler: s.proxyPort,
				summary: "Reverse proxy to a port inside the sandbox (WebSocket upgrades included); the path after the port is forwarded. Served on the API's origin with Content-Security-Policy: sandbox; the host form <port>-<id>.<sandbox-domain> gives the port an origin of its own."})
		}
	}
	out = append(out, route{method: "POST", pattern: "/v1/sandboxes/{id}/ports/{port}/url", access: team, handler: s.portURL,
		req: portURLRequest{}, resp: portURLView{}, status: http.StatusCreated,
		summary: "Sign an expiring URL of the port's host form (<port>-<id>.<sandbox-domain>) that opens it without other credentials; ttl_sec defaults to 3600, at most 7 days."})
	return out
}

// portParam reads the {port} path parameter.
func portParam(r *http.Request) (int, error) {
	port, err := strconv.Atoi(chi.URLParam(r, "port"))
	if err != nil || port < 1 || port > 65535 {
		return 0, errInvalid("port", "must be between 1 and 65535")
	}
	return port, nil
}

func (s *Server) proxyPort(w http.ResponseWriter, r *http.Request) {
	port, err := portParam(r)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	sb, err := pathID(r, "id", id.ParseSandboxID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	p := principalFrom(r.Context())
	// A session cookie is ambient authority: a page the sandbox serves could
	// make the browser send it. Proxy requests need a credential the caller
	// presents on purpose.
	if p.ByCookie {
		writeError(w, r, s.log, &Error{Status: http.StatusForbidden, Code: "forbidden",
			Message: "port proxy requests cannot be authenticated by the session cookie; use an API key (Authorization: Bearer or X-API-Key)"})
		return
	}
	// The sandbox sees itself addressed as localhost:port, as a local client
	// would address it; Warren's own host name means nothing inside.
	s.servePort(w, r, portTarget{team: p.TeamID, sb: sb, port: port, path: "/" + chi.URLParam(r, "*"),
		query: r.URL.RawQuery, host: "localhost:" + strconv.Itoa(port), sameOrigin: true})
}

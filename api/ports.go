package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox/service"
)

func (s *Server) portRoutes() []route {
	var out []route
	for _, pattern := range []string{"/v1/sandboxes/{id}/ports/{port}", "/v1/sandboxes/{id}/ports/{port}/*"} {
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"} {
			out = append(out, route{method: m, pattern: pattern, access: team, rawBody: "*/*", rawResp: "*/*", handler: s.proxyPort,
				summary: "Reverse proxy to a port inside the sandbox (WebSocket upgrades included); the path after the port is forwarded."})
		}
	}
	return out
}

func (s *Server) proxyPort(w http.ResponseWriter, r *http.Request) {
	port, err := strconv.Atoi(chi.URLParam(r, "port"))
	if err != nil || port < 1 || port > 65535 {
		writeError(w, r, s.log, errInvalid("port", "must be between 1 and 65535"))
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
	team := p.TeamID
	// Connect first, so that an unknown or stopped sandbox gets its own
	// answer rather than a gateway error. The connection goes straight to
	// the sandbox, or through the node running it (a gRPC stream).
	conn, err := s.sandboxes.DialPort(r.Context(), team, sb, port)
	var pe *service.PortError
	if errors.As(err, &pe) {
		s.portUnreachable(w, r, sb, port, err)
		return
	}
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	dial := &portDialer{conn: conn, redial: func(ctx context.Context) (net.Conn, error) {
		return s.sandboxes.DialPort(ctx, team, sb, port)
	}}
	defer dial.close()
	// The sandbox sees itself addressed as localhost:port, as a local client
	// would address it; Warren's own host name means nothing inside.
	target := &url.URL{Scheme: "http", Host: net.JoinHostPort("localhost", strconv.Itoa(port))}
	rest := "/" + chi.URLParam(r, "*")
	rp := &httputil.ReverseProxy{
		Transport: &http.Transport{
			DisableKeepAlives:     true, // the connection ends with this request
			ResponseHeaderTimeout: 5 * time.Minute,
			DialContext:           dial.dial,
		},
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = target.Scheme, target.Host
			pr.Out.URL.Path, pr.Out.URL.RawPath = rest, ""
			pr.Out.Host = target.Host
			// Warren's credentials never reach the sandbox.
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("X-API-Key")
			pr.Out.Header.Del("X-CSRF-Token")
			pr.Out.Header.Del("Cookie")
			pr.SetXForwarded()
		},
		ModifyResponse: func(res *http.Response) error {
			stripProxiedHeaders(res.Header)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.portUnreachable(w, r, sb, port, err)
		},
	}
	rp.ServeHTTP(w, r)
}

func (s *Server) portUnreachable(w http.ResponseWriter, r *http.Request, sb id.SandboxID, port int, err error) {
	s.log.Info("port proxy: upstream error", "request_id", RequestID(r.Context()), "sandbox", sb, "port", port, "err", err)
	writeError(w, r, s.log, &Error{Status: http.StatusBadGateway, Code: "bad_gateway",
		Message: "nothing answered on port " + strconv.Itoa(port) + " in the sandbox"})
}

// portDialer hands the proxy's transport the connection made up front, then
// (should the transport dial again) fresh ones.
type portDialer struct {
	mu     sync.Mutex
	conn   net.Conn
	redial func(context.Context) (net.Conn, error)
}

func (d *portDialer) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	d.mu.Lock()
	c := d.conn
	d.conn = nil
	d.mu.Unlock()
	if c != nil {
		return c, nil
	}
	return d.redial(ctx)
}

// close closes the up-front connection if the transport never took it.
func (d *portDialer) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
}

// stripProxiedHeaders removes from a sandbox's response what could reach
// beyond it: cookies it tries to set and a widened service-worker scope. The
// path form also shares the API/UI's origin, so its content is sandboxed
// (an opaque origin: no access to the API's cookies, storage or responses).
func stripProxiedHeaders(h http.Header) {
	h.Del("Set-Cookie")
	h.Del("Set-Cookie2")
	h.Del("Service-Worker-Allowed")
	h.Set("Content-Security-Policy", "sandbox")
}

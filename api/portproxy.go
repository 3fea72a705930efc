package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandboxes"
)

// portTarget is where one proxied request goes and how it is presented to
// the sandbox.
type portTarget struct {
	team    id.TeamID
	sb      id.SandboxID
	port    int
	path    string // the path the sandbox sees (RawPath when it must differ)
	rawPath string
	query   string // the raw query the sandbox sees
	host    string // the Host header the sandbox sees
	// sameOrigin: the answer is served on the API/UI's origin (the path
	// form), so it is sandboxed with CSP.
	sameOrigin bool
}

// servePort proxies r to the target port (HTTP, and WebSocket or any other
// upgrade), through the node running the sandbox when that is another one.
// The caller has authenticated the request for t.team.
func (s *Server) servePort(w http.ResponseWriter, r *http.Request, t portTarget) {
	// Connect first, so that an unknown or stopped sandbox gets its own
	// answer rather than a gateway error. The connection goes straight to
	// the sandbox, or through the node running it (a gRPC stream).
	conn, err := s.sandboxes.DialPort(r.Context(), t.team, t.sb, t.port)
	var pe *sandboxes.PortError
	if errors.As(err, &pe) {
		s.portUnreachable(w, r, t.sb, t.port, err)
		return
	}
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	dial := &portDialer{conn: conn, redial: func(ctx context.Context) (net.Conn, error) {
		return s.sandboxes.DialPort(ctx, t.team, t.sb, t.port)
	}}
	defer dial.close()
	rp := &httputil.ReverseProxy{
		Transport: &http.Transport{
			DisableKeepAlives:     true, // the connection ends with this request
			ResponseHeaderTimeout: 5 * time.Minute,
			DialContext:           dial.dial,
		},
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The dialer ignores the address; the URL only names the request.
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", net.JoinHostPort("localhost", strconv.Itoa(t.port))
			pr.Out.URL.Path, pr.Out.URL.RawPath = t.path, t.rawPath
			pr.Out.URL.RawQuery = t.query
			pr.Out.Host = t.host
			stripCredentials(pr.Out.Header)
			pr.SetXForwarded()
		},
		ModifyResponse: func(res *http.Response) error {
			stripProxiedHeaders(res.Header)
			if t.sameOrigin {
				res.Header.Set("Content-Security-Policy", "sandbox")
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.portUnreachable(w, r, t.sb, t.port, err)
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

// credentialHeaders are the request headers that carry Warren credentials
// (API keys, the session and its CSRF token, access tokens): none of them
// ever reaches a sandbox.
var credentialHeaders = []string{"Authorization", "X-API-Key", "X-CSRF-Token", "Cookie",
	"X-Access-Token", "E2b-Traffic-Access-Token"}

// stripCredentials removes Warren's credentials from a proxied request.
func stripCredentials(h http.Header) {
	for _, k := range credentialHeaders {
		h.Del(k)
	}
}

// stripProxiedHeaders removes from a sandbox's response what could reach
// beyond it: cookies it tries to set and a widened service-worker scope.
// Both forms of the proxy use it; the path form also sets CSP sandbox.
func stripProxiedHeaders(h http.Header) {
	h.Del("Set-Cookie")
	h.Del("Set-Cookie2")
	h.Del("Service-Worker-Allowed")
}

package api

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/warrenhq/warren/id"
)

// EnvdPort is the port E2B's SDK addresses the in-sandbox API (envd) at, in
// host names (49983-<id>.<domain>) and in the E2b-Sandbox-Port header.
const EnvdPort = 49983

// The headers E2B's SDK names a sandbox with when it is given one
// sandboxUrl instead of host names.
const (
	headerSandboxID   = "E2b-Sandbox-Id"
	headerSandboxPort = "E2b-Sandbox-Port"
)

// hosts routes requests addressed to a sandbox before the API sees them: a
// Host of the form <port>-<sandbox id>.<sandbox domain> goes to that port
// (or to envd for EnvdPort) and never to an API or UI route; any other
// subdomain of the sandbox domain is refused as malformed. A request naming
// a sandbox with the E2b-Sandbox-Id header goes to envd (E2b-Sandbox-Port
// absent or EnvdPort) or to that port. Everything else goes to next.
func (s *Server) hosts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sb, port, ok, err := parseSandboxHost(r.Host, s.cfg.SandboxDomain)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		hostForm := ok
		if !ok && r.Header.Get(headerSandboxID) != "" {
			sb, port, err = sandboxHeaders(r.Header)
			if err != nil {
				if p := r.Header.Get(headerSandboxPort); s.cfg.Envd != nil && (p == "" || p == strconv.Itoa(EnvdPort)) {
					s.cfg.Envd.ServeHTTP(w, r) // refuses it in the envd (Connect) protocol
					return
				}
				writeError(w, r, s.log, err)
				return
			}
			ok = true
		}
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if port == EnvdPort {
			s.serveEnvd(w, r, sb)
			return
		}
		s.hostPort(w, r, sb, port, hostForm)
	})
}

// parseSandboxHost reads host (a Host header, port optional) as
// <port>-<sandbox id>.<domain>. ok is false, with no error, for hosts
// outside the sandbox domain (the API's own); a subdomain of it that does
// not have that form is an error naming what is wrong.
func parseSandboxHost(host, domain string) (sb id.SandboxID, port int, ok bool, err error) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	label, under := strings.CutSuffix(host, "."+domain)
	if !under || label == "" {
		return sb, 0, false, nil
	}
	shape := "must be <port>-<sandbox id>." + domain
	if strings.Contains(label, ".") {
		return sb, 0, false, errInvalid("host", "%q %s (one label before the sandbox domain)", truncateHost(host), shape)
	}
	ps, rest, found := strings.Cut(label, "-")
	if !found {
		return sb, 0, false, errInvalid("host", "%q %s", truncateHost(host), shape)
	}
	if port, err = parsePort(ps); err != nil {
		return sb, 0, false, errInvalid("host", "port %q must be between 1 and 65535 (%s)", truncateHost(ps), shape)
	}
	if sb, err = id.ParseSandboxID(rest); err != nil {
		return sb, 0, false, errInvalid("host", "%q is not a sandbox id (sb-<uuid>; %s)", truncateHost(rest), shape)
	}
	return sb, port, true, nil
}

// sandboxHeaders reads the E2b-Sandbox-Id and E2b-Sandbox-Port headers; an
// absent port means envd.
func sandboxHeaders(h http.Header) (id.SandboxID, int, error) {
	sb, err := id.ParseSandboxID(strings.ToLower(h.Get(headerSandboxID)))
	if err != nil {
		return sb, 0, errInvalid(headerSandboxID, "must be a sandbox id (sb-<uuid>)")
	}
	port := EnvdPort
	if v := h.Get(headerSandboxPort); v != "" {
		if port, err = parsePort(v); err != nil {
			return sb, 0, errInvalid(headerSandboxPort, "must be between 1 and 65535")
		}
	}
	return sb, port, nil
}

// parsePort accepts 1..65535 in canonical decimal (no sign, no leading zero).
func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != s {
		return 0, strconv.ErrSyntax
	}
	return p, nil
}

func truncateHost(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// serveEnvd hands a request for sandbox sb's envd to Config.Envd, with the
// sandbox named in the headers whatever form the request came in (envd reads
// only those). envd authenticates the request itself.
func (s *Server) serveEnvd(w http.ResponseWriter, r *http.Request, sb id.SandboxID) {
	if s.cfg.Envd == nil {
		writeError(w, r, s.log, &Error{Status: http.StatusNotFound, Code: "not_found",
			Message: "the E2B in-sandbox API (envd, port " + strconv.Itoa(EnvdPort) + ") is not served by this node"})
		return
	}
	r.Header.Set(headerSandboxID, sb.String())
	r.Header.Set(headerSandboxPort, strconv.Itoa(EnvdPort))
	s.cfg.Envd.ServeHTTP(w, r)
}

// hostPort proxies a host-form (or E2b-Sandbox-Id) request to port of sb:
// the path and query as sent, minus the signature parameters, and the Host
// as the browser sent it (the app is served at that origin). A host-form
// answer gets no CSP sandbox: it is on an origin of its own, which holds no
// Warren credential. A header-form answer is on the API's origin and is
// sandboxed like the path form's.
func (s *Server) hostPort(w http.ResponseWriter, r *http.Request, sb id.SandboxID, port int, hostForm bool) {
	team, err := s.portAuth(r, sb, port)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if r.ContentLength > s.cfg.MaxUploadBytes {
		writeError(w, r, s.log, errTooLarge(s.cfg.MaxUploadBytes))
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadBytes)
	}
	s.servePort(w, r, portTarget{team: team, sb: sb, port: port, path: r.URL.Path, rawPath: r.URL.RawPath,
		query: stripSignature(r.URL.RawQuery), host: r.Host, sameOrigin: !hostForm})
}

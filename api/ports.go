package api

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/warrenhq/warren/id"
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

// proxyTransport dials sandboxes directly; no proxies from the environment.
var proxyTransport = &http.Transport{
	DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	MaxIdleConnsPerHost:   4,
	IdleConnTimeout:       30 * time.Second,
	ResponseHeaderTimeout: 5 * time.Minute,
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
	ip, err := s.sandboxes.IP(r.Context(), principalFrom(r.Context()).TeamID, sb)
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	target := &url.URL{Scheme: "http", Host: net.JoinHostPort(ip, strconv.Itoa(port))}
	rest := "/" + chi.URLParam(r, "*")
	rp := &httputil.ReverseProxy{
		Transport: proxyTransport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = target.Scheme, target.Host
			pr.Out.URL.Path, pr.Out.URL.RawPath = rest, ""
			pr.Out.Host = target.Host
			// Warren's credentials never reach the sandbox.
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("X-API-Key")
			pr.Out.Header.Del("X-CSRF-Token")
			removeCookie(pr.Out, sessionCookie)
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.log.Info("port proxy: upstream error", "request_id", RequestID(r.Context()), "sandbox", sb, "port", port, "err", err)
			writeError(w, r, s.log, &Error{Status: http.StatusBadGateway, Code: "bad_gateway",
				Message: "nothing answered on port " + strconv.Itoa(port) + " in the sandbox"})
		},
	}
	rp.ServeHTTP(w, r)
}

func removeCookie(r *http.Request, name string) {
	cookies := r.Cookies()
	r.Header.Del("Cookie")
	var keep []string
	for _, c := range cookies {
		if c.Name != name {
			keep = append(keep, c.String())
		}
	}
	if len(keep) > 0 {
		r.Header.Set("Cookie", strings.Join(keep, "; "))
	}
}

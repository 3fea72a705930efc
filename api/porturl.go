package api

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/warrenhq/warren/id"
)

// Signed port URLs' lifetimes.
const (
	defaultPortURLTTL = time.Hour
	maxPortURLTTL     = 7 * 24 * time.Hour
)

type portURLRequest struct {
	TTLSec *int64 `json:"ttl_sec,omitempty"` // default 3600, at most 604800 (7 days)
}

func (q *portURLRequest) validate() error {
	if q.TTLSec != nil && (*q.TTLSec < 1 || *q.TTLSec > int64(maxPortURLTTL/time.Second)) {
		return errInvalid("ttl_sec", "must be between 1 and %d (7 days)", int64(maxPortURLTTL/time.Second))
	}
	return nil
}

type portURLView struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// portURL signs a URL of the port's host form. The URL names the host and
// port the request came in on, so it works wherever the caller reached the
// API; the scheme follows the request's (TLS or not).
func (s *Server) portURL(w http.ResponseWriter, r *http.Request) {
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
	var req portURLRequest
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			writeError(w, r, s.log, err)
			return
		}
	}
	if s.cfg.Signer == nil {
		writeError(w, r, s.log, &Error{Status: http.StatusNotImplemented, Code: "not_implemented", Message: "this node signs no port URLs"})
		return
	}
	p := principalFrom(r.Context())
	if _, err := s.sandboxes.Get(r.Context(), p.TeamID, sb); err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	ttl := defaultPortURLTTL
	if req.TTLSec != nil {
		ttl = time.Duration(*req.TTLSec) * time.Second
	}
	expires := time.Now().Add(ttl).Truncate(time.Second).UTC()
	host := strconv.Itoa(port) + "-" + sb.String() + "." + s.cfg.SandboxDomain
	if _, apiPort, err := net.SplitHostPort(r.Host); err == nil && apiPort != "" {
		host = net.JoinHostPort(host, apiPort)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	details, _ := json.Marshal(map[string]any{"port": port, "expires_at": expires})
	s.audit(r, "sandbox.port_url", "sandbox", sb.String(), details)
	writeJSON(w, http.StatusCreated, portURLView{URL: scheme + "://" + host + "/?" + s.cfg.Signer.SignPortURL(sb, port, expires), ExpiresAt: expires})
}

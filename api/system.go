package api

import (
	"context"
	"net/http"
)

func (s *Server) systemRoutes() []route {
	return []route{
		{method: "GET", pattern: "/healthz", access: public, summary: "Liveness: the process answers.", resp: healthResponse{}, handler: s.healthz},
		{method: "GET", pattern: "/readyz", access: public, summary: "Readiness: Postgres is reachable (503 otherwise).", resp: healthResponse{}, handler: s.readyz},
	}
}

type healthResponse struct {
	Status  string `json:"status"`
	Node    string `json:"node,omitempty"`
	Version string `json:"version,omitempty"`
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, healthResponse{Status: "ok", Node: s.cfg.NodeID, Version: s.cfg.NodeVersion})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadyzTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("readyz: postgres unreachable", "request_id", RequestID(r.Context()), "err", err)
		writeError(w, r, s.log, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "database unreachable", RetryAfter: 2})
		return
	}
	writeJSON(w, http.StatusOK, healthResponse{Status: "ready", Node: s.cfg.NodeID, Version: s.cfg.NodeVersion})
}

package api

import (
	"context"
	"net/http"
)

func (s *Server) systemRoutes() []route {
	return []route{
		{method: "GET", pattern: "/healthz", access: public, summary: "Liveness: the process answers.", resp: healthResponse{}, handler: s.healthz},
		{method: "GET", pattern: "/readyz", access: public, summary: "Readiness: Postgres is reachable and the node waits for nothing (503 otherwise, naming what it waits for); degraded names what it serves without.", resp: healthResponse{}, handler: s.readyz},
	}
}

type healthResponse struct {
	Status     string `json:"status"`
	Ready      *bool  `json:"ready,omitempty"`
	WaitingFor string `json:"waiting_for,omitempty"`
	Degraded   string `json:"degraded,omitempty"`
	Node       string `json:"node,omitempty"`
	Version    string `json:"version,omitempty"`
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
	var waiting, degraded string
	if s.cfg.Readiness != nil {
		waiting, degraded = s.cfg.Readiness()
	}
	ready := waiting == ""
	resp := healthResponse{Status: "ready", Ready: &ready, WaitingFor: waiting, Degraded: degraded, Node: s.cfg.NodeID, Version: s.cfg.NodeVersion}
	if !ready {
		resp.Status = "waiting"
		w.Header().Set("Retry-After", "2")
		writeJSON(w, http.StatusServiceUnavailable, resp)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox/metrics"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store"
)

// Metrics is what the API needs for the metrics routes: a sandbox's samples
// (from the node running it, wherever that is) and a node's load.
type Metrics interface {
	// SandboxMetrics answers team's sandbox's samples taken after since
	// (all kept ones when zero). Errors are the sandbox package's:
	// ErrNotFound (no such sandbox of the team), ErrConflict (it ended),
	// *UnavailableError (its node does not answer).
	SandboxMetrics(ctx context.Context, team id.TeamID, sb id.SandboxID, since time.Time) (SandboxMetricsView, error)
	// NodeMetrics answers a member's load; store.ErrNotFound for a node that
	// is not a member, *sandbox.UnavailableError when it does not answer.
	NodeMetrics(ctx context.Context, node id.NodeID) (NodeMetricsView, error)
}

// SandboxMetricsView answers GET /v1/sandboxes/{id}/metrics.
type SandboxMetricsView struct {
	SandboxID   id.SandboxID `json:"sandbox_id"`
	NodeID      id.NodeID    `json:"node_id"`
	IntervalSec float64      `json:"interval_sec"`
	// Current is the newest sample, whatever since is; null until the
	// first one (one interval after the sandbox starts).
	Current *metrics.Sample `json:"current"`
	// Series holds the kept samples (the last hour by default) taken after
	// since, oldest first.
	Series []metrics.Sample `json:"series"`
}

// NodeMetricsView answers GET /v1/admin/nodes/{id}/metrics: the node's
// capacity, its host's load, and the sums of its sandboxes' newest samples.
type NodeMetricsView struct {
	NodeID      id.NodeID          `json:"node_id"`
	Time        time.Time          `json:"time"`
	IntervalSec float64            `json:"interval_sec"`
	Capacity    sandboxes.Capacity `json:"capacity"`
	Host        HostLoad           `json:"host"`
	Sandboxes   SandboxesLoad      `json:"sandboxes"`
}

// HostLoad is the host's own figures.
type HostLoad struct {
	Load1                float64 `json:"load1"`
	Load5                float64 `json:"load5"`
	Load15               float64 `json:"load15"`
	MemoryAvailableBytes int64   `json:"memory_available_bytes"`
}

// SandboxesLoad sums the newest samples of a node's sandboxes.
type SandboxesLoad struct {
	Sampled          int     `json:"sampled"`
	CPUCoresUsed     float64 `json:"cpu_cores_used"`
	VCPUsLimit       float64 `json:"vcpus_limit"`
	MemoryUsedBytes  int64   `json:"memory_used_bytes"`
	MemoryLimitBytes int64   `json:"memory_limit_bytes"`
	DiskUsedBytes    int64   `json:"disk_used_bytes"`
	DiskSizeBytes    int64   `json:"disk_size_bytes"`
	NetRxBytes       uint64  `json:"net_rx_bytes"`
	NetTxBytes       uint64  `json:"net_tx_bytes"`
}

// metricsRoutes are the JSON metrics routes (when Config.Metrics is set)
// and the Prometheus exposition at /metrics (when Config.Prometheus is):
// admin credentials unless Config.MetricsPublic.
func (s *Server) metricsRoutes() []route {
	var out []route
	if s.cfg.Metrics != nil {
		out = append(out,
			route{method: "GET", pattern: "/v1/sandboxes/{id}/metrics", access: team,
				summary: "A running or paused sandbox's CPU, memory, disk and network samples: the newest and the kept history (the last hour by default).",
				query:   []param{{"since", "RFC 3339 time: only samples taken after it (for polling)"}},
				resp:    SandboxMetricsView{}, handler: s.sandboxMetrics},
			route{method: "GET", pattern: "/v1/admin/nodes/{id}/metrics", access: admin,
				summary: "A node's capacity, host load and the sums of its sandboxes' newest samples.",
				resp:    NodeMetricsView{}, handler: s.nodeMetrics})
	}
	if s.cfg.Prometheus != nil {
		acc := admin
		if s.cfg.MetricsPublic {
			acc = public
		}
		h := s.cfg.Prometheus
		out = append(out, route{method: "GET", pattern: "/metrics", access: acc,
			summary: "This node's metrics in the Prometheus text format (admin key unless the node runs with --metrics-public).",
			rawResp: "text/plain", handler: h.ServeHTTP})
	}
	return out
}

func (s *Server) sandboxMetrics(w http.ResponseWriter, r *http.Request) {
	sb, err := pathID(r, "id", id.ParseSandboxID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		since, err = time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, r, s.log, errInvalid("since", "must be an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", trunc(v)))
			return
		}
	}
	v, err := s.cfg.Metrics.SandboxMetrics(r.Context(), principalFrom(r.Context()).TeamID, sb, since)
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	if v.Series == nil {
		v.Series = []metrics.Sample{}
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) nodeMetrics(w http.ResponseWriter, r *http.Request) {
	nid, err := pathID(r, "id", id.ParseNodeID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	v, err := s.cfg.Metrics.NodeMetrics(r.Context(), nid)
	if errors.Is(err, store.ErrNotFound) {
		err = errNotFound("node")
	}
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

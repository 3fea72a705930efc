package e2b

import (
	"context"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox/metrics"
)

// Metrics is what GET /sandboxes/{sandboxID}/metrics needs: the samples
// the node running the sandbox keeps (the last hour by default), oldest
// first, with the sandbox package's errors.
type Metrics interface {
	SandboxSamples(ctx context.Context, team id.TeamID, sb id.SandboxID, since time.Time) ([]metrics.Sample, error)
}

// SetMetrics makes the handler answer sandbox metrics from m; without it
// the route answers 501. Call it before serving.
func (h *Handler) SetMetrics(m Metrics) { h.metrics = m }

// metricView is E2B's SandboxMetric schema.
type metricView struct {
	Timestamp     time.Time `json:"timestamp"`
	TimestampUnix int64     `json:"timestampUnix"`
	CPUCount      int       `json:"cpuCount"`
	CPUUsedPct    float64   `json:"cpuUsedPct"`
	MemUsed       int64     `json:"memUsed"`
	MemTotal      int64     `json:"memTotal"`
	MemCache      int64     `json:"memCache"`
	DiskUsed      int64     `json:"diskUsed"`
	DiskTotal     int64     `json:"diskTotal"`
}

// unixParam parses an optional query parameter of Unix seconds.
func unixParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil || sec < 0 || sec > 1<<40 {
		return time.Time{}, invalid(name, "must be Unix seconds, got %q", v)
	}
	return time.Unix(sec, 0), nil
}

// sandboxMetrics serves GET /sandboxes/{sandboxID}/metrics?start=&end=:
// the kept samples between start and end (Unix seconds, both optional),
// oldest first. cpuUsedPct is of the sandbox's vCPU limit (E2B's is of its
// cores, which is the same figure); memUsed excludes the page cache, so
// memCache is 0.
func (h *Handler) sandboxMetrics(w http.ResponseWriter, r *http.Request) {
	start, err := unixParam(r, "start")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	end, err := unixParam(r, "end")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if !end.IsZero() && end.Before(start) {
		h.writeError(w, r, invalid("end", "must not be before start"))
		return
	}
	row, err := h.liveSandbox(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if h.metrics == nil {
		h.writeError(w, r, errorf(http.StatusNotImplemented, "sandbox metrics are not served by this node"))
		return
	}
	// since is exclusive; start is inclusive.
	since := start
	if !since.IsZero() {
		since = since.Add(-time.Nanosecond)
	}
	samples, err := h.metrics.SandboxSamples(r.Context(), row.TeamID, row.ID, since)
	if err != nil {
		h.writeError(w, r, mapError(err, row.ID.String()))
		return
	}
	out := make([]metricView, 0, len(samples))
	for _, s := range samples {
		if !end.IsZero() && s.Time.After(end) {
			continue
		}
		cpus := s.VCPUs
		if cpus <= 0 { // no CPU limit: measured against the host's CPUs
			cpus = float64(runtime.NumCPU())
		}
		out = append(out, metricView{Timestamp: s.Time.UTC(), TimestampUnix: s.Time.Unix(),
			CPUCount: max(1, int(math.Ceil(cpus))), CPUUsedPct: math.Round(s.CPUPercent*100) / 100,
			MemUsed: s.MemoryUsedBytes, MemTotal: s.MemoryLimitBytes, DiskUsed: s.DiskUsedBytes, DiskTotal: s.DiskSizeBytes})
	}
	writeJSON(w, http.StatusOK, out)
}

package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/warrenhq/warren/builder"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// Builds is what the API needs of the node's builder.
type Builds interface {
	Submit(ctx context.Context, team id.TeamID, creator id.UserID, req builder.Request) (db.TemplateBuild, error)
	Cancel(ctx context.Context, bid id.BuildID) (db.TemplateBuild, error)
}

func (s *Server) buildRoutes() []route {
	return []route{
		{method: "POST", pattern: "/v1/admin/builds", access: admin, summary: "Queue a template build from a recipe. With start_cmd and healthcheck the result is a snapshot template; without, an image-only template. Built templates are platform templates.",
			req: builder.Request{}, resp: buildView{}, status: http.StatusCreated, handler: s.submitBuild,
			maxBody: (builder.MaxSteps*builder.MaxStepBytes)*2 + 1<<20}, // escaped JSON of the largest recipe
		{method: "GET", pattern: "/v1/admin/builds", access: admin, summary: "List builds, newest first (logs omitted).",
			query: []param{{"status", "queued, running, succeeded, failed or cancelled"}, {"cursor", "next_cursor of the previous page"}, {"limit", "1-200, default 50"}},
			resp:  listResponse[buildView]{}, handler: s.listBuilds},
		{method: "GET", pattern: "/v1/admin/builds/{id}", access: admin, summary: "Get a build with its per-step logs.", resp: buildView{}, handler: s.getBuild},
		{method: "POST", pattern: "/v1/admin/builds/{id}/cancel", access: admin, summary: "Cancel a queued or running build.", resp: buildView{}, handler: s.cancelBuild},
	}
}

type buildView struct {
	ID             id.BuildID      `json:"id"`
	Name           string          `json:"name"`
	BaseTemplate   string          `json:"base_template"`
	Recipe         []string        `json:"recipe"`
	Status         string          `json:"status"`
	CurrentStep    int32           `json:"current_step"`
	TotalSteps     int32           `json:"total_steps"`
	StartCmd       string          `json:"start_cmd,omitempty"`
	Healthcheck    json.RawMessage `json:"healthcheck,omitempty"`
	VCPUs          float32         `json:"vcpus"`
	MemoryMB       int32           `json:"memory_mb"`
	DiskSizeMB     int32           `json:"disk_size_mb"`
	StepTimeoutSec int32           `json:"step_timeout_sec"`
	Error          string          `json:"error,omitempty"`
	// CancelRequested is set once a cancel is accepted; a running build
	// takes a moment to stop.
	CancelRequested bool               `json:"cancel_requested,omitempty"`
	TemplateID      *id.TemplateID     `json:"template_id,omitempty"`
	SizeBytes       int64              `json:"size_bytes"`
	NodeID          *id.NodeID         `json:"node_id,omitempty"`
	SandboxID       *id.SandboxID      `json:"sandbox_id,omitempty"`
	CreatedAt       time.Time          `json:"created_at"`
	StartedAt       *time.Time         `json:"started_at"`
	FinishedAt      *time.Time         `json:"finished_at"`
	Logs            []builder.LogEntry `json:"logs,omitempty"`
}

func viewBuild(b db.TemplateBuild, withLogs bool) buildView {
	v := buildView{ID: b.ID, Name: b.Name, BaseTemplate: b.BaseTemplate, Status: b.Status, CurrentStep: b.CurrentStep,
		TotalSteps: b.TotalSteps, StartCmd: b.StartCmd, Healthcheck: b.Healthcheck, VCPUs: b.Vcpus, MemoryMB: b.MemoryMb,
		DiskSizeMB: b.DiskSizeMb, StepTimeoutSec: b.StepTimeoutSec, Error: b.Error, CancelRequested: b.CancelRequested, SizeBytes: b.SizeBytes,
		SandboxID: b.SandboxID, CreatedAt: b.CreatedAt, StartedAt: b.StartedAt, FinishedAt: b.FinishedAt}
	_ = json.Unmarshal(b.Recipe, &v.Recipe)
	if b.TemplateID != nil {
		t := id.TemplateID(*b.TemplateID)
		v.TemplateID = &t
	}
	if b.NodeID != nil {
		n := id.NodeID(*b.NodeID)
		v.NodeID = &n
	}
	if withLogs {
		v.Logs = []builder.LogEntry{}
		_ = json.Unmarshal(b.Logs, &v.Logs)
	}
	return v
}

func (s *Server) submitBuild(w http.ResponseWriter, r *http.Request) {
	var req builder.Request
	if err := decode(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	p := principalFrom(r.Context())
	b, err := s.builds.Submit(r.Context(), p.TeamID, p.UserID, req)
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	s.audit(r, "build.submit", "build", b.ID.String(), nil)
	writeJSON(w, http.StatusCreated, viewBuild(b, true))
}

func (s *Server) listBuilds(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	params := db.ListBuildsParams{}
	if st := q.Get("status"); st != "" {
		switch st {
		case "queued", "running", "succeeded", "failed", "cancelled":
			params.Status = &st
		default:
			writeError(w, r, s.log, errInvalid("status", "must be queued, running, succeeded, failed or cancelled"))
			return
		}
	}
	cursor, limit, err := pageParams(q.Get("cursor"), q.Get("limit"))
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	params.Cursor, params.Lim = cursor, limit+1
	rows, err := s.store.ListBuilds(r.Context(), params)
	if err != nil {
		writeError(w, r, s.log, store.Map(err))
		return
	}
	out := listResponse[buildView]{Items: []buildView{}}
	for i, row := range rows {
		if i == int(limit) {
			out.NextCursor = rows[i-1].ID.String()
			break
		}
		out.Items = append(out.Items, viewBuild(db.TemplateBuild(row), false))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getBuild(w http.ResponseWriter, r *http.Request) {
	bid, err := pathID(r, "id", id.ParseBuildID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	b, err := s.store.GetBuild(r.Context(), bid)
	if err != nil {
		writeError(w, r, s.log, mapStore(store.Map(err), "build"))
		return
	}
	writeJSON(w, http.StatusOK, viewBuild(b, true))
}

func (s *Server) cancelBuild(w http.ResponseWriter, r *http.Request) {
	bid, err := pathID(r, "id", id.ParseBuildID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	b, err := s.builds.Cancel(r.Context(), bid)
	if err != nil {
		writeError(w, r, s.log, mapStore(mapDomain(err), "build"))
		return
	}
	s.audit(r, "build.cancel", "build", bid.String(), nil)
	writeJSON(w, http.StatusOK, viewBuild(b, true))
}

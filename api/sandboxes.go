package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox/timing"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

func (s *Server) sandboxRoutes() []route {
	return []route{
		{method: "POST", pattern: "/v1/sandboxes", access: team, summary: "Create a sandbox from a template (name or tpl- ID); answers once it is running.",
			req: createSandboxRequest{}, resp: sandboxView{}, status: http.StatusCreated, handler: s.createSandbox},
		{method: "GET", pattern: "/v1/sandboxes", access: team, summary: "List the team's sandboxes, newest first.",
			query: []param{{"state", "comma-separated statuses"}, {"template", "template name"}, {"metadata", "key=value (repeatable)"}, {"cursor", "next_cursor of the previous page"}, {"limit", "1-200, default 50"}},
			resp:  listResponse[sandboxView]{}, handler: s.listSandboxes},
		{method: "GET", pattern: "/v1/sandboxes/{id}", access: team, summary: "Get a sandbox.", resp: sandboxView{}, handler: s.getSandbox},
		{method: "DELETE", pattern: "/v1/sandboxes/{id}", access: team, summary: "Kill a sandbox and free everything it holds.", resp: sandboxView{}, handler: s.lifecycle(s.sandboxes.Kill)},
		{method: "POST", pattern: "/v1/sandboxes/{id}/pause", access: team, summary: "Freeze every process of a running sandbox.", resp: sandboxView{}, handler: s.lifecycle(s.sandboxes.Pause)},
		{method: "POST", pattern: "/v1/sandboxes/{id}/resume", access: team, summary: "Resume a paused sandbox.", resp: sandboxView{}, handler: s.lifecycle(s.sandboxes.Resume)},
		{method: "POST", pattern: "/v1/sandboxes/{id}/timeout", access: team, summary: "Set the sandbox's timeout, counted from now.", req: timeoutRequest{}, resp: sandboxView{}, handler: s.setTimeout},
		{method: "POST", pattern: "/v1/sandboxes/{id}/snapshots", access: team, summary: "Make a team template from the sandbox's disk (paused during the copy).",
			req: snapshotRequest{}, resp: templateView{}, status: http.StatusCreated, handler: s.snapshot},
	}
}

type sandboxView struct {
	ID            id.SandboxID      `json:"id"`
	TeamID        id.TeamID         `json:"team_id"`
	Template      string            `json:"template"`
	TemplateID    *id.TemplateID    `json:"template_id"`
	Status        string            `json:"status"`
	VCPUs         float32           `json:"vcpus"`
	MemoryMB      int32             `json:"memory_mb"`
	DiskSizeMB    int32             `json:"disk_size_mb"`
	TimeoutSec    int32             `json:"timeout_sec"`
	AllowInternet bool              `json:"allow_internet_access"`
	Metadata      map[string]string `json:"metadata"`
	NodeID        *id.NodeID        `json:"node_id"`
	IsBuild       bool              `json:"is_build,omitempty"`
	Error         string            `json:"error,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	StartedAt     *time.Time        `json:"started_at"`
	ExpiresAt     *time.Time        `json:"expires_at"`
	EndedAt       *time.Time        `json:"ended_at"`
}

func viewSandbox(r db.Sandbox) sandboxView {
	v := sandboxView{ID: r.ID, TeamID: r.TeamID, Template: r.TemplateName, Status: r.Status, VCPUs: r.Vcpus,
		MemoryMB: r.MemoryMb, DiskSizeMB: r.DiskSizeMb, TimeoutSec: r.TimeoutSec, AllowInternet: r.AllowInternetAccess,
		IsBuild: r.IsBuild, Error: r.Error, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, ExpiresAt: r.ExpiresAt, EndedAt: r.EndedAt}
	if r.TemplateID != nil {
		t := id.TemplateID(*r.TemplateID)
		v.TemplateID = &t
	}
	if r.NodeID != nil {
		n := id.NodeID(*r.NodeID)
		v.NodeID = &n
	}
	v.Metadata = map[string]string{}
	_ = json.Unmarshal(r.Metadata, &v.Metadata)
	return v
}

type createSandboxRequest struct {
	Template      string            `json:"template"`
	VCPUs         *float64          `json:"vcpus,omitempty"`
	MemoryMB      *int64            `json:"memory_mb,omitempty"`
	DiskSizeMB    *int64            `json:"disk_size_mb,omitempty"`
	TimeoutSec    *int64            `json:"timeout_sec,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	AllowInternet *bool             `json:"allow_internet_access,omitempty"`
}

func (q *createSandboxRequest) validate() error {
	if err := checkText("template", q.Template, 1, 128, false); err != nil {
		return err
	}
	for k, v := range q.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || len(k) > 256 {
			return errInvalid("env", "variable names must be 1-256 bytes without '=' or NUL")
		}
		if strings.ContainsRune(v, 0) || len(v) > 32<<10 {
			return errInvalid("env."+k, "values must be at most 32 KiB without NUL")
		}
	}
	for k, v := range q.Metadata {
		if err := checkText("metadata key", k, 1, 128, false); err != nil {
			return err
		}
		if err := checkText("metadata."+k, v, 0, 1024, false); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) createSandbox(w http.ResponseWriter, r *http.Request) {
	rec := timing.From(r.Context()) // set when the client asked for Server-Timing
	endAPI := rec.Start("api")      // the handler: decode, service, audit
	var req createSandboxRequest
	if err := decode(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	p := principalFrom(r.Context())
	row, err := s.sandboxes.Create(r.Context(), sandboxes.CreateRequest{
		Team: p.TeamID, Template: req.Template, VCPUs: req.VCPUs, MemoryMB: req.MemoryMB, DiskSizeMB: req.DiskSizeMB,
		TimeoutSec: req.TimeoutSec, Env: req.Env, Metadata: req.Metadata, AllowInternet: req.AllowInternet,
	})
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	end := rec.Start("audit")
	s.audit(r, "sandbox.create", "sandbox", row.ID.String(), nil)
	end()
	if endAPI(); rec != nil {
		w.Header().Set("Server-Timing", rec.ServerTiming())
	}
	writeJSON(w, http.StatusCreated, viewSandbox(row))
}

func (s *Server) listSandboxes(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := principalFrom(r.Context())
	params := db.ListSandboxesParams{TeamID: p.TeamID, Statuses: []string{}, Metadata: []byte("{}"), Lim: 50}
	if st := q.Get("state"); st != "" {
		for _, v := range strings.Split(st, ",") {
			switch v {
			case "creating", "running", "paused", "killed", "expired", "failed", "lost":
				params.Statuses = append(params.Statuses, v)
			default:
				writeError(w, r, s.log, errInvalid("state", "unknown status %q", trunc(v)))
				return
			}
		}
	}
	if t := q.Get("template"); t != "" {
		// Filters reach Postgres, which refuses NUL and invalid UTF-8.
		if err := checkText("template", t, 1, 128, false); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		params.TemplateName = &t
	}
	if md := q["metadata"]; len(md) > 0 {
		m := map[string]string{}
		for _, kv := range md {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				writeError(w, r, s.log, errInvalid("metadata", "must be key=value"))
				return
			}
			if err := checkText("metadata", k+v, 1, 1152, false); err != nil {
				writeError(w, r, s.log, err)
				return
			}
			m[k] = v
		}
		params.Metadata, _ = json.Marshal(m)
	}
	cursor, limit, err := pageParams(q.Get("cursor"), q.Get("limit"))
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	params.Cursor, params.Lim = cursor, limit+1
	rows, err := s.store.ListSandboxes(r.Context(), params)
	if err != nil {
		writeError(w, r, s.log, store.Map(err))
		return
	}
	out := listResponse[sandboxView]{Items: []sandboxView{}}
	for i, row := range rows {
		if i == int(limit) {
			out.NextCursor = rows[i-1].ID.String()
			break
		}
		out.Items = append(out.Items, viewSandbox(row))
	}
	writeJSON(w, http.StatusOK, out)
}

// pageParams parses cursor (an ID of the listed kind, any prefix) and limit.
func pageParams(cursor, limit string) (*uuid.UUID, int32, error) {
	lim := int64(50)
	if limit != "" {
		v, err := strconv.ParseInt(limit, 10, 32)
		if err != nil || v < 1 || v > 200 {
			return nil, 0, errInvalid("limit", "must be between 1 and 200")
		}
		lim = v
	}
	if cursor == "" {
		return nil, int32(lim), nil
	}
	_, raw, ok := strings.Cut(cursor, "-")
	u, err := uuid.Parse(raw)
	if !ok || err != nil || len(raw) != 36 {
		return nil, 0, errInvalid("cursor", "malformed cursor")
	}
	return &u, int32(lim), nil
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func (s *Server) getSandbox(w http.ResponseWriter, r *http.Request) {
	sb, err := pathID(r, "id", id.ParseSandboxID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	row, err := s.sandboxes.Get(r.Context(), principalFrom(r.Context()).TeamID, sb)
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	writeJSON(w, http.StatusOK, viewSandbox(row))
}

// lifecycle serves kill, pause and resume.
func (s *Server) lifecycle(op func(ctx context.Context, team id.TeamID, sb id.SandboxID) (db.Sandbox, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sb, err := pathID(r, "id", id.ParseSandboxID)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		row, err := op(r.Context(), principalFrom(r.Context()).TeamID, sb)
		if err != nil {
			writeError(w, r, s.log, mapDomain(err))
			return
		}
		s.audit(r, "sandbox."+lastSegment(r.URL.Path, r.Method), "sandbox", sb.String(), nil)
		writeJSON(w, http.StatusOK, viewSandbox(row))
	}
}

func lastSegment(path, method string) string {
	if method == http.MethodDelete {
		return "kill"
	}
	return path[strings.LastIndexByte(path, '/')+1:]
}

type timeoutRequest struct {
	TimeoutSec int64 `json:"timeout_sec"`
}

func (s *Server) setTimeout(w http.ResponseWriter, r *http.Request) {
	sb, err := pathID(r, "id", id.ParseSandboxID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	var req timeoutRequest
	if err := decode(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	row, err := s.sandboxes.SetTimeout(r.Context(), principalFrom(r.Context()).TeamID, sb, req.TimeoutSec)
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	writeJSON(w, http.StatusOK, viewSandbox(row))
}

type snapshotRequest struct {
	Name string `json:"name"`
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	sb, err := pathID(r, "id", id.ParseSandboxID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	var req snapshotRequest
	if err := decode(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	tpl, err := s.sandboxes.Snapshot(r.Context(), s.images, principalFrom(r.Context()).TeamID, sb, req.Name)
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	s.audit(r, "sandbox.snapshot", "template", tpl.ID.String(), nil)
	writeJSON(w, http.StatusCreated, viewTemplate(tpl))
}

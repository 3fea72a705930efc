package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

func (s *Server) templateRoutes() []route {
	return []route{
		{method: "GET", pattern: "/v1/templates", access: team, summary: "List the team's templates and the platform templates (marked platform: true).",
			query: []param{{"type", "image or snapshot"}}, resp: listResponse[templateView]{}, handler: s.listTemplates},
		{method: "GET", pattern: "/v1/admin/templates", access: admin, summary: "List every template across teams, with replicas and the build that made it.",
			resp: listResponse[adminTemplateView]{}, handler: s.listAllTemplates},
	}
}

type templateView struct {
	ID          id.TemplateID   `json:"id"`
	Name        string          `json:"name"`
	TeamID      id.TeamID       `json:"team_id"`
	Platform    bool            `json:"platform"`
	Type        string          `json:"type"`
	SizeBytes   int64           `json:"size_bytes"`
	VCPUs       float32         `json:"vcpus"`
	MemoryMB    int32           `json:"memory_mb"`
	StartCmd    string          `json:"start_cmd,omitempty"`
	Healthcheck json.RawMessage `json:"healthcheck,omitempty"`
	BuildID     *id.BuildID     `json:"build_id,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
}

func viewTemplate(t db.Template) templateView {
	v := templateView{ID: t.ID, Name: t.Name, TeamID: t.TeamID, Platform: t.TeamID == id.PlatformTeamID, Type: t.Type,
		SizeBytes: t.SizeBytes, VCPUs: t.Vcpus, MemoryMB: t.MemoryMb, StartCmd: t.StartCmd, Healthcheck: t.Healthcheck, CreatedAt: t.CreatedAt}
	if t.BuildID != nil {
		b := id.BuildID(*t.BuildID)
		v.BuildID = &b
	}
	return v
}

type adminTemplateView struct {
	templateView
	TeamName string `json:"team_name"`
	Replicas int32  `json:"replicas"`
}

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	var (
		tpls []db.Template
		err  error
	)
	switch typ := r.URL.Query().Get("type"); typ {
	case "":
		tpls, err = s.store.ListTemplatesByTeam(r.Context(), p.TeamID)
	case "image", "snapshot":
		tpls, err = s.store.ListTemplatesByTeamAndType(r.Context(), db.ListTemplatesByTeamAndTypeParams{TeamID: p.TeamID, Type: typ})
	default:
		writeError(w, r, s.log, errInvalid("type", "must be image or snapshot"))
		return
	}
	if err != nil {
		writeError(w, r, s.log, store.Map(err))
		return
	}
	out := make([]templateView, 0, len(tpls))
	for _, t := range tpls {
		out = append(out, viewTemplate(t))
	}
	writeJSON(w, http.StatusOK, list(out))
}

func (s *Server) listAllTemplates(w http.ResponseWriter, r *http.Request) {
	rows, err := s.store.ListAllTemplates(r.Context())
	if err != nil {
		writeError(w, r, s.log, store.Map(err))
		return
	}
	out := make([]adminTemplateView, 0, len(rows))
	for _, t := range rows {
		v := viewTemplate(db.Template{ID: t.ID, TeamID: t.TeamID, Name: t.Name, Type: t.Type, SizeBytes: t.SizeBytes, Vcpus: t.Vcpus,
			MemoryMb: t.MemoryMb, StartCmd: t.StartCmd, Healthcheck: t.Healthcheck, BuildID: t.BuildID, CreatedAt: t.CreatedAt})
		out = append(out, adminTemplateView{templateView: v, TeamName: t.TeamName, Replicas: t.Replicas})
	}
	writeJSON(w, http.StatusOK, list(out))
}

package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// Nodes is what the API needs to show and drain the cluster's nodes.
type Nodes interface {
	Nodes(ctx context.Context) (NodesView, error)
	SetDraining(ctx context.Context, node id.NodeID, draining bool) (NodeView, error)
}

// NodesView answers GET /v1/admin/nodes.
type NodesView struct {
	Leader *id.NodeID `json:"leader"`
	Nodes  []NodeView `json:"nodes"`
}

// NodeView is one member of the cluster.
type NodeView struct {
	ID        id.NodeID          `json:"id"`
	Name      string             `json:"name"`
	Role      string             `json:"role"`   // server or client
	Status    string             `json:"status"` // alive, suspect, dead, left
	HTTPAddr  string             `json:"http_addr"`
	Draining  bool               `json:"draining"`
	Version   string             `json:"version"`
	Capacity  sandboxes.Capacity `json:"capacity"`
	Sandboxes int                `json:"sandboxes"`
}

func (s *Server) nodeRoutes() []route {
	return []route{
		{method: "GET", pattern: "/v1/admin/nodes", access: admin, summary: "The cluster's members: roles, status, the leader, capacity and sandbox counts.", resp: NodesView{}, handler: s.listNodes},
		{method: "POST", pattern: "/v1/admin/nodes/{id}/drain", access: admin, summary: "Stop placing new sandboxes and builds on a node; live ones keep running.", resp: NodeView{}, handler: s.drain(true)},
		{method: "POST", pattern: "/v1/admin/nodes/{id}/undrain", access: admin, summary: "Let a drained node take new sandboxes again.", resp: NodeView{}, handler: s.drain(false)},
		{method: "GET", pattern: "/v1/admin/sandboxes", access: admin, summary: "Every team's sandboxes, build sandboxes included, newest first.",
			query: []param{{"state", "comma-separated statuses"}, {"cursor", "next_cursor of the previous page"}, {"limit", "1-200, default 50"}},
			resp:  listResponse[sandboxView]{}, handler: s.listAllSandboxes},
		{method: "DELETE", pattern: "/v1/templates/{id}", access: team, summary: "Delete a template of the team (admins: also platform templates); refused while live sandboxes use it.",
			status: http.StatusNoContent, handler: s.deleteTemplate},
	}
}

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) {
	v, err := s.nodes.Nodes(r.Context())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) drain(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		nid, err := pathID(r, "id", id.ParseNodeID)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		v, err := s.nodes.SetDraining(r.Context(), nid, on)
		if err != nil {
			writeError(w, r, s.log, mapStore(err, "node"))
			return
		}
		s.audit(r, map[bool]string{true: "node.drain", false: "node.undrain"}[on], "node", nid.String(), nil)
		writeJSON(w, http.StatusOK, v)
	}
}

func (s *Server) listAllSandboxes(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	params := db.ListAllSandboxesParams{Statuses: []string{}}
	if st := q.Get("state"); st != "" {
		params.Statuses = strings.Split(st, ",")
		for _, v := range params.Statuses {
			if !validStatus(v) {
				writeError(w, r, s.log, errInvalid("state", "unknown status %q", trunc(v)))
				return
			}
		}
	}
	cursor, limit, err := pageParams(q.Get("cursor"), q.Get("limit"))
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	params.Cursor, params.Lim = cursor, limit+1
	rows, err := s.store.ListAllSandboxes(r.Context(), params)
	if err != nil {
		writeError(w, r, s.log, store.Map(err))
		return
	}
	writeJSON(w, http.StatusOK, page(rows, int(limit), viewSandbox, func(r db.Sandbox) string { return r.ID.String() }))
}

func validStatus(v string) bool {
	switch sandbox.Status(v) {
	case sandbox.StatusCreating, sandbox.StatusRunning, sandbox.StatusPaused, sandbox.StatusKilled,
		sandbox.StatusExpired, sandbox.StatusFailed, sandbox.StatusLost:
		return true
	}
	return false
}

// page turns limit+1 rows into one page and its next cursor.
func page[R, V any](rows []R, limit int, view func(R) V, key func(R) string) listResponse[V] {
	out := listResponse[V]{Items: make([]V, 0, min(len(rows), limit))}
	for i, row := range rows {
		if i == limit {
			out.NextCursor = key(rows[i-1])
			break
		}
		out.Items = append(out.Items, view(row))
	}
	return out
}

func (s *Server) deleteTemplate(w http.ResponseWriter, r *http.Request) {
	tid, err := pathID(r, "id", id.ParseTemplateID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	p := principalFrom(r.Context())
	if err := s.sandboxes.DeleteTemplate(r.Context(), s.images, p.TeamID, p.Admin, tid); err != nil {
		switch {
		case sandboxes.IsForbidden(err):
			err = &Error{Status: http.StatusForbidden, Code: "permission_denied", Message: "platform templates are deleted by admins"}
		case errors.Is(err, sandbox.ErrNotFound):
			err = errNotFound("template")
		}
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	s.audit(r, "template.delete", "template", tid.String(), json.RawMessage(`{}`))
	w.WriteHeader(http.StatusNoContent)
}

package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandboxes"
)

// Pools is what the warm pool routes need of the sandbox service.
type Pools interface {
	SetPool(ctx context.Context, tid id.TemplateID, req sandboxes.PoolRequest) (sandboxes.Pool, error)
	Pools(ctx context.Context) ([]sandboxes.Pool, error)
}

// poolSettings is the body of a pool's POST/PUT: the count each node keeps
// ready and the class (absent fields: the template's and the node's
// defaults, as a create's).
type poolSettings struct {
	Count         *int64   `json:"count"`
	VCPUs         *float64 `json:"vcpus,omitempty"`
	MemoryMB      *int64   `json:"memory_mb,omitempty"`
	DiskSizeMB    *int64   `json:"disk_size_mb,omitempty"`
	AllowInternet *bool    `json:"allow_internet_access,omitempty"`
}

type poolList struct {
	Pools []sandboxes.Pool `json:"pools"`
}

func (s *Server) poolRoutes() []route {
	const sum = "Set a template's warm pool: how many sandboxes of one class (vcpus, memory_mb, disk_size_mb, allow_internet_access; absent: the defaults) every node keeps pre-started for creates to claim. 0 empties it."
	return []route{
		{method: "GET", pattern: "/v1/admin/pools", access: admin, summary: "Every warm pool.", resp: poolList{}, handler: s.listPools},
		{method: "POST", pattern: "/v1/admin/templates/{id}/pool", access: admin, summary: sum, req: poolSettings{}, resp: sandboxes.Pool{}, handler: s.setPool},
		{method: "PUT", pattern: "/v1/admin/templates/{id}/pool", access: admin, summary: sum, req: poolSettings{}, resp: sandboxes.Pool{}, handler: s.setPool},
	}
}

func (s *Server) listPools(w http.ResponseWriter, r *http.Request) {
	ps, err := s.sandboxes.Pools(r.Context())
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, poolList{Pools: ps})
}

func (s *Server) setPool(w http.ResponseWriter, r *http.Request) {
	tid, err := pathID(r, "id", id.ParseTemplateID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	var req poolSettings
	if err := decode(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	p, err := s.sandboxes.SetPool(r.Context(), tid, sandboxes.PoolRequest{Count: req.Count, VCPUs: req.VCPUs,
		MemoryMB: req.MemoryMB, DiskSizeMB: req.DiskSizeMB, AllowInternet: req.AllowInternet})
	if err != nil {
		if errors.Is(err, sandbox.ErrNotFound) {
			err = errNotFound("template")
		}
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	details, _ := json.Marshal(req)
	s.audit(r, "template.pool.set", "template", tid.String(), details)
	writeJSON(w, http.StatusOK, p)
}

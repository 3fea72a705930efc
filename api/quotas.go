package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandboxes"
)

// Quotas is what the quota routes need of the node's sandbox service.
type Quotas interface {
	TeamQuota(ctx context.Context, team id.TeamID) (sandboxes.TeamQuota, error)
	SetTeamQuota(ctx context.Context, team id.TeamID, o sandboxes.TeamOverrides) (sandboxes.TeamQuota, error)
}

func (s *Server) quotaRoutes() []route {
	return []route{
		{method: "GET", pattern: "/v1/team/quota", access: team, summary: "The team's quota on live sandboxes (limits in force, 0 = unlimited) and its usage.", resp: quotaView{}, handler: s.ownQuota},
		{method: "GET", pattern: "/v1/admin/teams/{id}/quota", access: admin, summary: "A team's quota: its own limits (null = the operator default), the limits in force and its usage.", resp: quotaView{}, handler: s.teamQuota},
		{method: "PUT", pattern: "/v1/admin/teams/{id}/quota", access: admin, summary: "Replace a team's own limits; an absent or null field takes the operator default, 0 is unlimited.", req: quotaSettings{}, resp: quotaView{}, handler: s.setTeamQuota},
	}
}

// quotaSettings are a team's own limits; null takes the operator default.
type quotaSettings struct {
	MaxSandboxes *int64   `json:"max_sandboxes"`
	MaxVCPUs     *float64 `json:"max_vcpus"`
	MaxMemoryMB  *int64   `json:"max_memory_mb"`
	MaxDiskMB    *int64   `json:"max_disk_mb"`
}

func (q *quotaSettings) overrides() sandboxes.TeamOverrides {
	return sandboxes.TeamOverrides{Sandboxes: q.MaxSandboxes, VCPUs: q.MaxVCPUs, MemoryMB: q.MaxMemoryMB, DiskMB: q.MaxDiskMB}
}

func (q *quotaSettings) validate() error { return mapDomain(q.overrides().Validate()) }

// quotaLimits are the limits in force; 0 is unlimited.
type quotaLimits struct {
	MaxSandboxes int64   `json:"max_sandboxes"`
	MaxVCPUs     float64 `json:"max_vcpus"`
	MaxMemoryMB  int64   `json:"max_memory_mb"`
	MaxDiskMB    int64   `json:"max_disk_mb"`
}

// quotaUsage is what the team's live sandboxes (builds not counted) hold.
type quotaUsage struct {
	Sandboxes int64   `json:"sandboxes"`
	VCPUs     float64 `json:"vcpus"`
	MemoryMB  int64   `json:"memory_mb"`
	DiskMB    int64   `json:"disk_mb"`
}

type quotaView struct {
	TeamID id.TeamID     `json:"team_id"`
	Team   quotaSettings `json:"team"`   // the team's own limits; null = the operator default
	Limits quotaLimits   `json:"limits"` // in force; 0 = unlimited
	Usage  quotaUsage    `json:"usage"`
}

func viewQuota(q sandboxes.TeamQuota) quotaView {
	return quotaView{
		TeamID: q.Team,
		Team:   quotaSettings{MaxSandboxes: q.Own.Sandboxes, MaxVCPUs: q.Own.VCPUs, MaxMemoryMB: q.Own.MemoryMB, MaxDiskMB: q.Own.DiskMB},
		Limits: quotaLimits{MaxSandboxes: q.Limits.Sandboxes, MaxVCPUs: q.Limits.VCPUs, MaxMemoryMB: q.Limits.MemoryMB, MaxDiskMB: q.Limits.DiskMB},
		Usage:  quotaUsage{Sandboxes: q.Usage.Sandboxes, VCPUs: q.Usage.VCPUs, MemoryMB: q.Usage.MemoryMB, DiskMB: q.Usage.DiskMB},
	}
}

func (s *Server) ownQuota(w http.ResponseWriter, r *http.Request) {
	q, err := s.sandboxes.TeamQuota(r.Context(), principalFrom(r.Context()).TeamID)
	if err != nil {
		writeError(w, r, s.log, mapStore(err, "team"))
		return
	}
	writeJSON(w, http.StatusOK, viewQuota(q))
}

func (s *Server) teamQuota(w http.ResponseWriter, r *http.Request) {
	tid, err := pathID(r, "id", id.ParseTeamID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	q, err := s.sandboxes.TeamQuota(r.Context(), tid)
	if err != nil {
		writeError(w, r, s.log, mapStore(err, "team"))
		return
	}
	writeJSON(w, http.StatusOK, viewQuota(q))
}

func (s *Server) setTeamQuota(w http.ResponseWriter, r *http.Request) {
	tid, err := pathID(r, "id", id.ParseTeamID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	var req quotaSettings
	if err := decode(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	q, err := s.sandboxes.SetTeamQuota(r.Context(), tid, req.overrides())
	if err != nil {
		writeError(w, r, s.log, mapStore(mapDomain(err), "team"))
		return
	}
	details, _ := json.Marshal(req)
	s.audit(r, "team.quota.set", "team", tid.String(), details)
	writeJSON(w, http.StatusOK, viewQuota(q))
}

package client

import (
	"context"
	"net/http"
)

// QuotaSettings are a team's own limits on its live sandboxes; a nil field
// takes the operator's default, 0 is unlimited.
type QuotaSettings struct {
	MaxSandboxes *int64   `json:"max_sandboxes"`
	MaxVCPUs     *float64 `json:"max_vcpus"`
	MaxMemoryMB  *int64   `json:"max_memory_mb"`
	MaxDiskMB    *int64   `json:"max_disk_mb"`
}

// QuotaLimits are the limits in force; 0 is unlimited.
type QuotaLimits struct {
	MaxSandboxes int64   `json:"max_sandboxes"`
	MaxVCPUs     float64 `json:"max_vcpus"`
	MaxMemoryMB  int64   `json:"max_memory_mb"`
	MaxDiskMB    int64   `json:"max_disk_mb"`
}

// QuotaUsage is what a team's live sandboxes hold (build sandboxes not counted).
type QuotaUsage struct {
	Sandboxes int64   `json:"sandboxes"`
	VCPUs     float64 `json:"vcpus"`
	MemoryMB  int64   `json:"memory_mb"`
	DiskMB    int64   `json:"disk_mb"`
}

// Quota is a team's quota: its own settings, the limits in force and its usage.
type Quota struct {
	TeamID string        `json:"team_id"`
	Team   QuotaSettings `json:"team"`
	Limits QuotaLimits   `json:"limits"`
	Usage  QuotaUsage    `json:"usage"`
}

// MyQuota returns the calling team's quota and usage.
func (c *Client) MyQuota(ctx context.Context) (Quota, error) {
	var q Quota
	return q, c.do(ctx, http.MethodGet, "/v1/team/quota", nil, nil, &q)
}

// TeamQuota returns a team's quota and usage (admin).
func (c *Client) TeamQuota(ctx context.Context, teamID string) (Quota, error) {
	var q Quota
	return q, c.do(ctx, http.MethodGet, "/v1/admin/teams/"+seg(teamID)+"/quota", nil, nil, &q)
}

// SetTeamQuota replaces a team's own limits with s (admin).
func (c *Client) SetTeamQuota(ctx context.Context, teamID string, s QuotaSettings) (Quota, error) {
	var q Quota
	return q, c.do(ctx, http.MethodPut, "/v1/admin/teams/"+seg(teamID)+"/quota", nil, s, &q)
}

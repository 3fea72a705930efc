package client

import (
	"context"
	"net/http"
)

// PoolSettings sets a template's warm pool: Count sandboxes of the class
// (nil fields: the template's and the node's defaults) kept ready per node.
type PoolSettings struct {
	Count         int64    `json:"count"`
	VCPUs         *float64 `json:"vcpus,omitempty"`
	MemoryMB      *int64   `json:"memory_mb,omitempty"`
	DiskSizeMB    *int64   `json:"disk_size_mb,omitempty"`
	AllowInternet *bool    `json:"allow_internet_access,omitempty"`
}

// Pool is a warm pool as the server keeps it.
type Pool struct {
	TemplateID    string  `json:"template_id"`
	VCPUs         float64 `json:"vcpus"`
	MemoryMB      int64   `json:"memory_mb"`
	DiskSizeMB    int64   `json:"disk_size_mb"`
	AllowInternet bool    `json:"allow_internet_access"`
	Count         int64   `json:"count"`
}

// SetPool sets template templateID's warm pool (admin).
func (c *Client) SetPool(ctx context.Context, templateID string, s PoolSettings) (Pool, error) {
	var p Pool
	return p, c.do(ctx, http.MethodPut, "/v1/admin/templates/"+seg(templateID)+"/pool", nil, s, &p)
}

// ListPools lists every warm pool (admin).
func (c *Client) ListPools(ctx context.Context) ([]Pool, error) {
	var out struct {
		Pools []Pool `json:"pools"`
	}
	return out.Pools, c.do(ctx, http.MethodGet, "/v1/admin/pools", nil, nil, &out)
}

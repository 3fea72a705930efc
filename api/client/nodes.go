package client

import (
	"context"
	"net/http"
)

// NodeCapacity is what a node has and has left.
type NodeCapacity struct {
	VCPUsTotal       float64 `json:"vcpus_total"`
	VCPUsFree        float64 `json:"vcpus_free"`
	MemoryMBTotal    int64   `json:"memory_mb_total"`
	MemoryMBFree     int64   `json:"memory_mb_free"`
	DiskBytesFree    int64   `json:"disk_bytes_free"`
	SandboxesRunning int     `json:"sandboxes_running"`
	SandboxesMax     int     `json:"sandboxes_max"`
}

// Node is a cluster member.
type Node struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Role      string       `json:"role"`   // server or client
	Status    string       `json:"status"` // alive, suspect, dead, left
	HTTPAddr  string       `json:"http_addr"`
	Draining  bool         `json:"draining"`
	Version   string       `json:"version"`
	Capacity  NodeCapacity `json:"capacity"`
	Sandboxes int          `json:"sandboxes"`
}

// Nodes is the cluster's membership and its leader.
type Nodes struct {
	Leader string `json:"leader"`
	Nodes  []Node `json:"nodes"`
}

// ListNodes lists the cluster's nodes (admin).
func (c *Client) ListNodes(ctx context.Context) (Nodes, error) {
	var n Nodes
	return n, c.do(ctx, http.MethodGet, "/v1/admin/nodes", nil, nil, &n)
}

// DrainNode stops new placements on a node (admin).
func (c *Client) DrainNode(ctx context.Context, id string) (Node, error) {
	var n Node
	return n, c.do(ctx, http.MethodPost, "/v1/admin/nodes/"+seg(id)+"/drain", nil, nil, &n)
}

// UndrainNode lets a drained node take placements again (admin).
func (c *Client) UndrainNode(ctx context.Context, id string) (Node, error) {
	var n Node
	return n, c.do(ctx, http.MethodPost, "/v1/admin/nodes/"+seg(id)+"/undrain", nil, nil, &n)
}

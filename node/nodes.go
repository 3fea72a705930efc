package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// nodes answers the admin node routes from gossip (members, roles, status,
// capacity, the leader) and Postgres (drain flags, nodes seen before but no
// longer members).
type nodes struct{ n *Node }

var _ api.Nodes = nodes{}

func (v nodes) Nodes(ctx context.Context) (api.NodesView, error) {
	rows, err := v.n.store.ListNodes(ctx)
	if err != nil {
		return api.NodesView{}, store.Map(err)
	}
	byID := map[id.NodeID]db.Node{}
	for _, r := range rows {
		byID[r.ID] = r
	}
	out := api.NodesView{Nodes: []api.NodeView{}}
	c := v.n.cluster.c
	if leader, ok := c.Leader(); ok {
		if lid, err := id.ParseNodeID(leader); err == nil {
			out.Leader = &lid
		}
	}
	seen := map[id.NodeID]bool{}
	for _, m := range c.Members() {
		nid, err := id.ParseNodeID(m.ID)
		if err != nil {
			continue
		}
		seen[nid] = true
		out.Nodes = append(out.Nodes, v.fromMember(ctx, nid, m, byID[nid]))
	}
	for _, r := range rows {
		if !seen[r.ID] {
			out.Nodes = append(out.Nodes, api.NodeView{ID: r.ID, Name: r.Name, Role: r.Role, Status: "unknown", HTTPAddr: r.HttpAddr, Draining: r.Draining})
		}
	}
	return out, nil
}

func (v nodes) fromMember(ctx context.Context, nid id.NodeID, m cluster.Member, row db.Node) api.NodeView {
	c := m.Meta.Capacity
	nv := api.NodeView{ID: nid, Name: m.Meta.Name, Role: string(m.Meta.Role), Status: string(m.Status),
		HTTPAddr: m.Meta.HTTPAddr, Draining: row.Draining || m.Meta.Drain, Version: m.Meta.Version,
		Sandboxes: int(c.RunningSandboxes)}
	nv.Capacity = sandboxes.Capacity{VCPUsFree: float64(c.FreeMilliCPU) / 1000, MemoryMBFree: int64(c.FreeMemoryMB),
		DiskBytesFree: int64(c.FreeDiskBytes), SandboxesRunning: int(c.RunningSandboxes), SandboxesMax: int(c.MaxSandboxes)}
	if nid == v.n.ID {
		// This node knows its totals as well.
		if local, err := v.n.service.Capacity(ctx); err == nil {
			nv.Capacity, nv.Sandboxes = local, local.SandboxesRunning
		}
	}
	return nv
}

func (v nodes) SetDraining(ctx context.Context, nid id.NodeID, on bool) (api.NodeView, error) {
	r, err := v.n.store.SetNodeDraining(ctx, db.SetNodeDrainingParams{ID: nid, Draining: on})
	if err != nil {
		if errors.Is(store.Map(err), store.ErrNotFound) {
			return api.NodeView{}, fmt.Errorf("node %s: %w", nid, store.ErrNotFound)
		}
		return api.NodeView{}, store.Map(err)
	}
	if nid == v.n.ID {
		v.n.service.SetDraining(on)
		v.n.cluster.c.SetDrain(on)
	}
	if m, ok := v.n.cluster.c.Member(nid.String()); ok {
		nv := v.fromMember(ctx, nid, m, r)
		nv.Draining = on
		return nv, nil
	}
	return api.NodeView{ID: r.ID, Name: r.Name, Role: r.Role, Status: "unknown", HTTPAddr: r.HttpAddr, Draining: r.Draining}, nil
}

package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// nodes answers the admin node routes. Until the cluster lands, a node knows
// only itself: it is its own leader, and other rows in the nodes table are shown
// with status "unknown".
type nodes struct{ n *Node }

var _ api.Nodes = nodes{}

func (v nodes) Nodes(ctx context.Context) (api.NodesView, error) {
	rows, err := v.n.store.ListNodes(ctx)
	if err != nil {
		return api.NodesView{}, store.Map(err)
	}
	leader := v.n.ID
	out := api.NodesView{Leader: &leader, Nodes: []api.NodeView{}}
	for _, r := range rows {
		nv, err := v.view(ctx, r)
		if err != nil {
			return out, err
		}
		out.Nodes = append(out.Nodes, nv)
	}
	return out, nil
}

func (v nodes) view(ctx context.Context, r db.Node) (api.NodeView, error) {
	nv := api.NodeView{ID: r.ID, Name: r.Name, Role: r.Role, Status: "unknown", HTTPAddr: r.HttpAddr, Draining: r.Draining}
	if r.ID != v.n.ID {
		return nv, nil
	}
	c, err := v.n.service.Capacity(ctx, filepath.Join(v.n.cfg.DataDir, "pool"))
	if err != nil {
		return nv, err
	}
	nv.Status, nv.Version, nv.Capacity, nv.Sandboxes = "alive", Version, c, c.SandboxesRunning
	nv.HTTPAddr = v.n.HTTPAddr()
	nv.Draining = v.n.service.Draining()
	return nv, nil
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
	}
	return v.view(ctx, r)
}

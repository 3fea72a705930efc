package node

import (
	"context"
	"fmt"
	"sort"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandbox/service"
)

// schedule is the leader's placement: an alive, undrained node with room for
// the sandbox (gossiped capacity, less what was just placed on it and not yet
// reported), preferring nodes that already hold the template's image and
// otherwise the one with the most free memory, with at most
// MaxConcurrentStarts recent placements per node.
func (cn *clusterNode) schedule(ctx context.Context, p service.Placement) (id.NodeID, error) {
	drained := cn.drainedNodes(ctx)
	holders := map[id.NodeID]bool{}
	if reps, err := cn.n.store.ListTemplateReplicas(ctx, p.Template); err == nil {
		for _, r := range reps {
			holders[r.NodeID] = true
		}
	}
	type cand struct {
		node   id.NodeID
		holds  bool
		freeMB int64
	}
	var cands []cand
	cn.mu.Lock()
	defer cn.mu.Unlock()
	for _, m := range cn.c.Members() {
		nid, err := id.ParseNodeID(m.ID)
		if err != nil || m.Status != cluster.StatusAlive || m.Meta.Drain || m.Meta.Leaving || drained[nid] {
			continue
		}
		c := m.Meta.Capacity
		pending := int64(cn.inflight[nid])
		if pending >= int64(cn.n.cfg.Cluster.MaxConcurrentStarts) {
			continue
		}
		freeMB := int64(c.FreeMemoryMB) - pending*p.MemoryMB
		freeCPU := int64(c.FreeMilliCPU) - pending*int64(p.VCPUs*1000)
		if freeMB < p.MemoryMB || freeCPU < int64(p.VCPUs*1000) || int64(c.RunningSandboxes)+pending >= int64(c.MaxSandboxes) {
			continue
		}
		cands = append(cands, cand{node: nid, holds: holders[nid], freeMB: freeMB})
	}
	if len(cands) == 0 {
		return id.NodeID{}, &sandbox.CapacityError{Message: fmt.Sprintf(
			"no node has room for %g vCPU and %d MB now; retry later", p.VCPUs, p.MemoryMB)}
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].holds != cands[j].holds {
			return cands[i].holds
		}
		return cands[i].freeMB > cands[j].freeMB
	})
	best := cands[0].node
	cn.inflight[best]++
	// Gossip reports the new sandbox within a couple of seconds; until then
	// the placement counts here.
	time.AfterFunc(3*time.Second, func() {
		cn.mu.Lock()
		defer cn.mu.Unlock()
		if cn.inflight[best]--; cn.inflight[best] <= 0 {
			delete(cn.inflight, best)
		}
	})
	return best, nil
}

// placeError turns the leader's answer to Place into a final error for the
// client, or nil when the call is worth retrying (no leader there any more,
// the leader unreachable).
func placeError(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	switch st.Code() {
	case codes.ResourceExhausted:
		return &sandbox.CapacityError{Message: st.Message()}
	case codes.InvalidArgument:
		return fmt.Errorf("%w: %s", sandbox.ErrInvalid, st.Message())
	}
	return nil
}

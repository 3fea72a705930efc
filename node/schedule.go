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
	"github.com/warrenhq/warren/sandboxes"
)

// schedule is the leader's placement: an alive, undrained node with room for
// the sandbox (gossiped capacity, less what was just placed on it and not yet
// reported), preferring nodes that already hold the template's image and
// otherwise the one with the most free memory, with at most
// MaxConcurrentStarts recent placements per node.
func (cn *clusterNode) schedule(ctx context.Context, p sandboxes.Placement) (id.NodeID, error) {
	// A node at its bound of concurrent starts makes the placement wait for a
	// slot (briefly), not fail: the bound paces starts.
	deadline := time.Now().Add(10 * time.Second)
	for {
		node, busy, err := cn.pick(ctx, p)
		if err != nil || !busy {
			return node, err
		}
		if time.Now().After(deadline) {
			return id.NodeID{}, &sandbox.CapacityError{Message: "every node with room is busy starting sandboxes; retry shortly"}
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return id.NodeID{}, ctx.Err()
		case <-t.C:
		}
	}
}

// pick chooses a node, or reports busy when nodes have room but all are at
// their bound of concurrent starts.
func (cn *clusterNode) pick(ctx context.Context, p sandboxes.Placement) (id.NodeID, bool, error) {
	drained := cn.drainedNodes(ctx)
	for _, x := range p.Exclude {
		drained[x] = true
	}
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
	busy, diskFull := false, false
	cn.mu.Lock()
	defer cn.mu.Unlock()
	for _, m := range cn.c.Members() {
		nid, err := id.ParseNodeID(m.ID)
		if err != nil || m.Status != cluster.StatusAlive || m.Meta.Drain || m.Meta.Leaving || drained[nid] {
			continue
		}
		c := m.Meta.Capacity
		pending := int64(len(cn.inflight[nid]))
		freeMB := int64(c.FreeMemoryMB) - pending*p.MemoryMB
		freeCPU := int64(c.FreeMilliCPU) - pending*int64(p.VCPUs*1000)
		// The node itself enforces its sandbox count exactly; here only what gossip says.
		if freeMB < p.MemoryMB || freeCPU < int64(p.VCPUs*1000) || c.RunningSandboxes >= c.MaxSandboxes {
			continue
		}
		// FreeDiskBytes is what the node's pool has beyond its reserve.
		if c.FreeDiskBytes == 0 {
			diskFull = true
			continue
		}
		if pending >= int64(cn.n.cfg.Cluster.MaxConcurrentStarts) {
			busy = true
			continue
		}
		cands = append(cands, cand{node: nid, holds: holders[nid], freeMB: freeMB})
	}
	if len(cands) == 0 {
		if busy {
			return id.NodeID{}, true, nil
		}
		if diskFull {
			return id.NodeID{}, false, &sandbox.CapacityError{Message: "every node with room for it is short of disk (its pool is below the free-space reserve); retry later"}
		}
		return id.NodeID{}, false, &sandbox.CapacityError{Message: fmt.Sprintf(
			"no node has room for %g vCPU and %d MB now; retry later", p.VCPUs, p.MemoryMB)}
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].holds != cands[j].holds {
			return cands[i].holds
		}
		return cands[i].freeMB > cands[j].freeMB
	})
	best := cands[0].node
	sl := &slot{}
	cn.inflight[best] = append(cn.inflight[best], sl)
	// The start's end frees the slot (Started) when it ends on a node that
	// tells this leader; otherwise gossip reports the new sandbox within about
	// a second, and the slot frees itself after that.
	time.AfterFunc(1500*time.Millisecond, func() { cn.release(best, sl) })
	return best, false, nil
}

// slot is one placement holding a node's start slot.
type slot struct{ released bool }

// release frees sl, or (sl nil) node's oldest held slot.
func (cn *clusterNode) release(node id.NodeID, sl *slot) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	held := cn.inflight[node][:0]
	for _, s := range cn.inflight[node] {
		if !s.released && (s == sl || sl == nil) {
			s.released, sl = true, s
			continue
		}
		if !s.released {
			held = append(held, s)
		}
	}
	if len(held) == 0 {
		delete(cn.inflight, node)
	} else {
		cn.inflight[node] = held
	}
}

// Started frees node's oldest start slot at once when this node is the
// leader that placed it (a start ended); elsewhere the leader's timer frees it.
func (cn *clusterNode) Started(node id.NodeID) {
	if cn.c.IsLeader() {
		cn.release(node, nil)
	}
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

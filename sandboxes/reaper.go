package sandboxes

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/store/db"
)

func nodePtr(n id.NodeID) *uuid.UUID {
	u := n.UUID()
	return &u
}

// Reconcile marks this node's live rows lost: after a restart no sandbox of the
// previous run survives (Manager.CleanupStale removed their remains). Call it at
// start, before serving.
func (s *Service) Reconcile(ctx context.Context) error {
	ids, err := s.st.MarkNodeSandboxesLost(ctx, db.MarkNodeSandboxesLostParams{NodeID: nodePtr(s.node), Error: "the node restarted; the sandbox was lost"})
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		s.log.Warn("sandboxes lost in a node restart", "count", len(ids))
	}
	return nil
}

// RunReaper ends sandboxes whose timeout has passed, checking every interval
// until ctx is done. Every fourth round it sweeps what failed teardowns left
// (a disk whose loop device was still busy), every tenth it reconciles this
// node's live rows with what the runtime holds.
func (s *Service) RunReaper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for round := 1; ; round++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.recordFailed(ctx)
			s.reapOnce(ctx)
			if round%4 == 0 {
				if err := s.mgr.Sweep(ctx); err != nil {
					s.log.Warn("sweeping leftovers of ended sandboxes", "err", err)
				}
			}
			if round%10 == 0 {
				s.reconcileRows(ctx)
			}
		}
	}
}

// orphanGrace is how long a creating row may exist before this node starts it:
// another node records the row, then asks this one.
const orphanGrace = 30 * time.Second

// reconcileRows makes this node's rows and sandboxes agree. It ends live rows
// with no sandbox behind them (a create whose final write failed while
// Postgres was down leaves its row creating; a sandbox that vanished leaves
// it running), and it destroys sandboxes whose rows have ended elsewhere (the
// leader records a node's sandboxes lost when gossip declares it dead, as in
// a partition). Rows being started now, and rows recorded moments ago by
// another node, are left alone.
func (s *Service) reconcileRows(ctx context.Context) {
	// The sandboxes running here, taken before the rows are read: one that
	// is not starting had its row written before this point.
	var here []string
	s.mu.Lock()
	for _, sid := range s.mgr.IDs() {
		if sb, err := id.ParseSandboxID(sid); err == nil {
			if _, starting := s.starting[sb]; !starting {
				here = append(here, sid)
			}
		}
	}
	s.mu.Unlock()
	rows, err := s.st.ListNodeLiveSandboxes(ctx, nodePtr(s.node))
	if err != nil {
		return
	}
	live := make(map[string]bool, len(rows))
	for _, r := range rows {
		live[r.ID.String()] = true
	}
	// A sandbox whose row ended without this node — recorded lost by the
	// leader while this node was cut off from the cluster, say — must not
	// run on unseen: nobody can reach or kill it through the API.
	for _, sid := range here {
		if live[sid] {
			continue
		}
		switch err := s.mgr.Destroy(sid); {
		case err == nil:
			s.log.Warn("ended a sandbox whose row is no longer live (recorded ended elsewhere, e.g. lost while this node was unreachable)", "sandbox", sid)
		case !errors.Is(err, sandbox.ErrNotFound):
			s.log.Error("ending a sandbox whose row is no longer live", "sandbox", sid, "err", err)
		}
	}
	for _, r := range rows {
		s.mu.Lock()
		_, starting := s.starting[r.ID]
		s.mu.Unlock()
		if starting || s.mgr.Has(r.ID.String()) {
			continue
		}
		status, msg := sandbox.StatusLost, "the sandbox's processes are gone"
		if r.Status == string(sandbox.StatusCreating) {
			if time.Since(r.CreatedAt) < orphanGrace {
				continue
			}
			status, msg = sandbox.StatusFailed, "the sandbox failed to start"
		}
		if _, err := s.setStatus(ctx, r.ID, status, msg); err == nil {
			s.log.Warn("reconciled a row without a sandbox", "sandbox", r.ID, "was", r.Status, "now", status)
		}
	}
}

func (s *Service) reapOnce(ctx context.Context) {
	rows, err := s.st.ListExpiredSandboxes(ctx, nodePtr(s.node))
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("reaper: listing expired sandboxes", "err", err)
		}
		return
	}
	for _, r := range rows {
		if _, err := s.end(r.ID, sandbox.StatusExpired, ""); err != nil {
			s.log.Warn("reaper: ending sandbox", "sandbox", r.ID, "err", err)
			continue
		}
		s.log.Info("sandbox expired", "sandbox", r.ID)
	}
}

// Shutdown ends every sandbox of this node, recording it lost: a node that
// stops takes its sandboxes with it, leaving nothing running.
func (s *Service) Shutdown() {
	for _, sid := range s.mgr.IDs() {
		sb, err := id.ParseSandboxID(sid)
		if err != nil {
			continue
		}
		if _, err := s.end(sb, sandbox.StatusLost, "the node shut down"); err != nil {
			s.log.Warn("shutdown: ending sandbox", "sandbox", sid, "err", err)
			_ = s.mgr.Destroy(sid)
		}
	}
}

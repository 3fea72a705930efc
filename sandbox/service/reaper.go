package service

import (
	"context"
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
// until ctx is done.
func (s *Service) RunReaper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.reapOnce(ctx)
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

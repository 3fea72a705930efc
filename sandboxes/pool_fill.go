package sandboxes

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// poolStartsPerRound paces the refill: at most this many pooled sandboxes
// start per round, one after another, so a pool raised to 100 does not take
// every start slot of the node from the creates that are waiting.
const poolStartsPerRound = 4

// runPools keeps this node's pooled sandboxes at their pools' counts: every
// interval, and at once when a pool is set or a sandbox claimed. Each node
// fills its own share (one loop per node, no leader): the pool count is per
// node, so a node counts only its own rows and no two nodes race for one.
func (s *Service) runPools(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if s.fillPools(ctx) {
			s.kickPools()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.poolKick:
		}
	}
}

// fillPools runs one refill round and reports whether more is to start.
// A draining node keeps no pooled sandboxes; pooled ones of a class that no
// longer has a pool (lowered, template deleted) or beyond the count end.
func (s *Service) fillPools(ctx context.Context) (more bool) {
	if s.draining.Load() {
		s.teardownPools(ctx, "the node is draining")
		return false
	}
	pools, err := s.st.ListWarmPools(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("pools: listing pools", "err", err)
		}
		return false
	}
	rows, err := s.st.ListNodePooledSandboxes(ctx, nodePtr(s.node))
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("pools: listing pooled sandboxes", "err", err)
		}
		return false
	}
	want := make(map[poolKey]int, len(pools))
	classes := make(map[poolKey]bool, len(pools))
	for _, p := range pools {
		want[keyOfPool(p)] = int(p.Count)
		classes[keyOfPool(p)] = p.Count > 0
	}
	s.mu.Lock()
	s.poolClasses = classes
	s.mu.Unlock()
	have := map[poolKey]int{}
	for _, r := range rows {
		k := keyOfRow(r)
		if r.TemplateID == nil || have[k] >= want[k] {
			s.killPooled(ctx, r.ID, "its pool was lowered")
			continue
		}
		have[k]++
	}
	started := 0
	for _, p := range pools {
		k := keyOfPool(p)
		for have[k] < want[k] {
			if started == poolStartsPerRound {
				return true
			}
			if err := s.startPooled(ctx, p); err != nil {
				if ctx.Err() == nil {
					s.log.Warn("pools: starting a pooled sandbox", "template", id.TemplateID(p.TemplateID), "err", err)
				}
				break
			}
			have[k]++
			started++
		}
	}
	return false
}

// startPooled starts one pooled sandbox of p's class on this node, within
// the node's capacity (it counts like any sandbox), and records it ready.
// A failure leaves no sandbox and a failed row.
func (s *Service) startPooled(ctx context.Context, p db.WarmPool) error {
	if err := s.reserve(ctx); err != nil {
		return err
	}
	defer s.release()
	tpl, err := s.st.GetTemplate(ctx, id.TemplateID(p.TemplateID))
	if err != nil {
		return store.Map(err)
	}
	hc, err := ParseHealthcheck(tpl.Healthcheck)
	if err != nil {
		return err
	}
	tplID := tpl.ID.UUID()
	row, err := s.st.CreatePooledSandbox(ctx, db.CreatePooledSandboxParams{ID: id.NewSandboxID(), NodeID: nodePtr(s.node),
		TemplateID: &tplID, TemplateName: tpl.Name, Vcpus: p.Vcpus, MemoryMb: p.MemoryMb, DiskSizeMb: p.DiskSizeMb,
		TimeoutSec: int32(s.limits.DefaultTimeoutSec), AllowInternetAccess: p.AllowInternetAccess})
	if err != nil {
		return store.Map(err)
	}
	s.mu.Lock()
	s.starting[row.ID] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.starting, row.ID)
		s.mu.Unlock()
	}()
	failed := func(cause error) error {
		uctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := s.setStatus(uctx, row.ID, StatusFailed, failedToStart); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.unrecorded(row.ID, failedToStart)
		}
		return fmt.Errorf("pooled sandbox %s: %w", row.ID, cause)
	}
	if s.cluster != nil {
		if err := s.cluster.EnsureImage(ctx, tpl.ID); err != nil {
			return failed(fmt.Errorf("template image: %w", err))
		}
	}
	info, err := s.mgr.Create(ctx, sandbox.Spec{
		ID: row.ID.String(), Team: id.PlatformTeamID.String(), Image: tpl.ID.String(), VCPUs: float64(row.Vcpus),
		MemoryMB: int64(row.MemoryMb), DiskSizeMB: int64(row.DiskSizeMb), AllowInternet: row.AllowInternetAccess,
		StartCmd: tpl.StartCmd, Healthcheck: hc.Runtime(),
	})
	if err != nil {
		return failed(err)
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := s.st.SetPooledSandboxReady(uctx, db.SetPooledSandboxReadyParams{ID: row.ID, Ip: info.IP}); err != nil {
		// Ended meanwhile (its template deleted, the node draining) or the
		// database failed: either way it must not run unrecorded.
		s.destroyLocal(row.ID)
		if errors.Is(store.Map(err), store.ErrNotFound) {
			return nil
		}
		return failed(store.Map(err))
	}
	if s.draining.Load() {
		s.killPooled(uctx, row.ID, "the node is draining")
	}
	return nil
}

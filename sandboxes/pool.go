package sandboxes

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandbox/agent"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// MaxPoolCount is the most pooled sandboxes one pool may ask each node for.
const MaxPoolCount = 100

// Pool is a warm pool: how many ready sandboxes of one class (template,
// vCPUs, memory, disk, internet access) every node that is not draining
// keeps pre-started. A create of that class served by a node claims one of
// the node's pooled sandboxes instead of starting one.
type Pool struct {
	Template      id.TemplateID `json:"template_id"`
	VCPUs         float64       `json:"vcpus"`
	MemoryMB      int64         `json:"memory_mb"`
	DiskSizeMB    int64         `json:"disk_size_mb"`
	AllowInternet bool          `json:"allow_internet_access"`
	Count         int64         `json:"count"`
}

// PoolRequest sets a pool. Count is required; nil class fields take the
// template's and the operator's defaults, as a create's do.
type PoolRequest struct {
	Count         *int64
	VCPUs         *float64
	MemoryMB      *int64
	DiskSizeMB    *int64
	AllowInternet *bool
}

// poolKey is a pool's class, as pooled rows and creates carry it.
type poolKey struct {
	tpl      uuid.UUID
	vcpus    float32
	mem      int32
	disk     int32
	internet bool
}

func keyOfRow(r db.Sandbox) poolKey {
	k := poolKey{vcpus: r.Vcpus, mem: r.MemoryMb, disk: r.DiskSizeMb, internet: r.AllowInternetAccess}
	if r.TemplateID != nil {
		k.tpl = *r.TemplateID
	}
	return k
}

func keyOfPool(p db.WarmPool) poolKey {
	return poolKey{tpl: p.TemplateID, vcpus: p.Vcpus, mem: p.MemoryMb, disk: p.DiskSizeMb, internet: p.AllowInternetAccess}
}

func keyOfParams(p db.CreateSandboxParams) poolKey {
	k := poolKey{vcpus: p.Vcpus, mem: p.MemoryMb, disk: p.DiskSizeMb, internet: p.AllowInternetAccess}
	if p.TemplateID != nil {
		k.tpl = *p.TemplateID
	}
	return k
}

func poolOf(r db.WarmPool) Pool {
	return Pool{Template: id.TemplateID(r.TemplateID), VCPUs: float64(r.Vcpus), MemoryMB: int64(r.MemoryMb),
		DiskSizeMB: int64(r.DiskSizeMb), AllowInternet: r.AllowInternetAccess, Count: int64(r.Count)}
}

// SetPool sets the pool of template tid's class in req to req.Count per
// node (0 empties it) and wakes this node's refill. Other nodes follow
// within their pool interval.
func (s *Service) SetPool(ctx context.Context, tid id.TemplateID, req PoolRequest) (Pool, error) {
	if req.Count == nil {
		return Pool{}, sandbox.Fieldf("count", "is required")
	}
	if c := *req.Count; c < 0 || c > MaxPoolCount || c > int64(s.limits.MaxSandboxes) {
		return Pool{}, sandbox.Fieldf("count", "must be between 0 and %d, got %d", min(MaxPoolCount, s.limits.MaxSandboxes), c)
	}
	tpl, err := s.st.GetTemplate(ctx, tid)
	if err != nil {
		if errors.Is(store.Map(err), store.ErrNotFound) {
			return Pool{}, fmt.Errorf("template %s: %w", tid, sandbox.ErrNotFound)
		}
		return Pool{}, store.Map(err)
	}
	p, err := s.params(CreateRequest{Team: id.PlatformTeamID, VCPUs: req.VCPUs, MemoryMB: req.MemoryMB,
		DiskSizeMB: req.DiskSizeMB, AllowInternet: req.AllowInternet}, tpl)
	if err != nil {
		return Pool{}, err
	}
	row, err := s.st.UpsertWarmPool(ctx, db.UpsertWarmPoolParams{TemplateID: tpl.ID.UUID(), Vcpus: p.Vcpus, MemoryMb: p.MemoryMb,
		DiskSizeMb: p.DiskSizeMb, AllowInternetAccess: p.AllowInternetAccess, Count: int32(*req.Count)})
	if err != nil {
		if errors.Is(store.Map(err), store.ErrInvalid) { // the template was deleted in between
			return Pool{}, fmt.Errorf("template %s: %w", tid, sandbox.ErrNotFound)
		}
		return Pool{}, store.Map(err)
	}
	s.kickPools()
	return poolOf(row), nil
}

// Pools lists every pool.
func (s *Service) Pools(ctx context.Context) ([]Pool, error) {
	rows, err := s.st.ListWarmPools(ctx)
	if err != nil {
		return nil, store.Map(err)
	}
	out := make([]Pool, 0, len(rows))
	for _, r := range rows {
		out = append(out, poolOf(r))
	}
	return out, nil
}

// claim takes one of this node's ready pooled sandboxes of p's class for
// p's team: in one transaction with the team's quota check (the claimed
// sandbox counts against the quota from then on, as a new row would), the
// row becomes the team's and running, with p's metadata and timeout, its
// expiry counted from now and a new token generation. Then the agent gets
// env. The hostname needs no change: every sandbox's is sandbox.Hostname and
// nothing of the pool's own ran in it. ok is false when the node has none ready (or
// the handover failed, the sandbox then ended): the caller creates cold.
func (s *Service) claim(ctx context.Context, p db.CreateSandboxParams, env map[string]string) (db.Sandbox, bool, error) {
	// A pooled sandbox has only the node's egress rules; a create with its
	// own lists starts cold so they are installed before anything runs.
	if p.IsBuild || len(p.AllowOut) > 0 || len(p.DenyOut) > 0 || s.draining.Load() || !s.hasPool(keyOfParams(p)) {
		return db.Sandbox{}, false, nil
	}
	var row db.Sandbox
	err := s.st.Tx(ctx, func(q *db.Queries) error {
		if err := s.checkQuota(ctx, q, p, true); err != nil {
			return err
		}
		var err error
		row, err = q.ClaimPooledSandbox(ctx, db.ClaimPooledSandboxParams{TeamID: p.TeamID, Metadata: p.Metadata,
			TimeoutSec: p.TimeoutSec, NodeID: nodePtr(s.node), TemplateID: p.TemplateID, Vcpus: p.Vcpus, MemoryMb: p.MemoryMb,
			DiskSizeMb: p.DiskSizeMb, AllowInternetAccess: p.AllowInternetAccess})
		return store.Map(err)
	})
	if errors.Is(err, store.ErrNotFound) {
		return db.Sandbox{}, false, nil
	}
	if err != nil {
		return db.Sandbox{}, false, err
	}
	s.kickPools()
	sid := row.ID.String()
	err = s.mgr.SetTeam(sid, row.TeamID.String())
	if err == nil {
		var ag *agent.Client
		if ag, err = s.mgr.Agent(sid); err == nil {
			err = ag.Configure(ctx, env)
		}
	}
	if err != nil {
		s.log.Error("handing a pooled sandbox over; creating one cold instead", "sandbox", row.ID, "err", err)
		_, _ = s.end(row.ID, StatusFailed, failedToStart)
		return db.Sandbox{}, false, nil
	}
	return row, true, nil
}

// hasPool reports whether the last refill round (or SetPool here) saw a
// pool of class k; a create of another class skips the claim's transaction.
func (s *Service) hasPool(k poolKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.poolClasses[k]
}

// kickPools wakes the refill loop now.
func (s *Service) kickPools() {
	select {
	case s.poolKick <- struct{}{}:
	default:
	}
}

// killPooled ends pooled sandbox sb (if no claim took it first) and
// destroys it.
func (s *Service) killPooled(ctx context.Context, sb id.SandboxID, reason string) {
	if _, err := s.st.KillPooledSandbox(ctx, db.KillPooledSandboxParams{ID: sb, Error: reason}); err != nil {
		if !errors.Is(store.Map(err), store.ErrNotFound) {
			s.log.Warn("ending a pooled sandbox", "sandbox", sb, "err", err)
		}
		return
	}
	s.destroyLocal(sb)
}

func (s *Service) destroyLocal(sb id.SandboxID) {
	if err := s.mgr.Destroy(sb.String()); err != nil && !errors.Is(err, sandbox.ErrNotFound) {
		s.log.Error("destroying a pooled sandbox", "sandbox", sb, "err", err)
	}
}

// teardownPools ends every pooled sandbox of this node (drain, shutdown).
func (s *Service) teardownPools(ctx context.Context, reason string) {
	rows, err := s.st.ListNodePooledSandboxes(ctx, nodePtr(s.node))
	if err != nil {
		s.log.Warn("listing pooled sandboxes to end them", "err", err)
		return
	}
	for _, r := range rows {
		s.killPooled(ctx, r.ID, reason)
	}
}

// killTemplatePools ends the pooled sandboxes of template tid on every
// node; this node destroys its own at once, other nodes' go when their
// reaper reconciles rows with what runs (rows that ended are destroyed).
func (s *Service) killTemplatePools(ctx context.Context, tid id.TemplateID) error {
	u := tid.UUID()
	rows, err := s.st.KillPooledSandboxesByTemplate(ctx, &u)
	if err != nil {
		return store.Map(err)
	}
	for _, r := range rows {
		if r.NodeID != nil && id.NodeID(*r.NodeID) == s.node {
			s.destroyLocal(r.ID)
		}
	}
	return nil
}

package builder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// Config configures a node's builder.
type Config struct {
	// Workers is how many builds this node runs at once (default 2).
	Workers int
	// Targets, used by the dispatcher (the leader), lists the nodes that may
	// take builds and their free worker slots. Nil: this node alone.
	Targets func(ctx context.Context) []Target
	// Poll is how often the dispatcher looks for queued builds and workers look
	// for cancel requests made on other nodes (default 500 ms).
	Poll   time.Duration
	Logger *slog.Logger
}

// Target is a node with free build slots, as the leader sees it.
type Target struct {
	Node id.NodeID
	Free int
}

// Builder queues builds, dispatches them (as the leader) and runs them (as a
// node with worker slots).
type Builder struct {
	cfg    Config
	st     *store.Store
	svc    *sandboxes.Service
	images sandboxes.Images
	node   id.NodeID
	log    *slog.Logger
	wake   chan struct{}

	crashed atomic.Bool // Crash was called: record nothing more
	mu      sync.Mutex
	running map[id.BuildID]context.CancelFunc
	started map[id.BuildID]bool // every build this process ran: never twice
	wg      sync.WaitGroup
}

// New returns a node's builder.
func New(cfg Config, st *store.Store, svc *sandboxes.Service, images sandboxes.Images, node id.NodeID) *Builder {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Builder{cfg: cfg, st: st, svc: svc, images: images, node: node, log: cfg.Logger,
		wake: make(chan struct{}, 1), running: map[id.BuildID]context.CancelFunc{}, started: map[id.BuildID]bool{}}
}

// Submit validates req and queues it as a build by team's user creator.
func (b *Builder) Submit(ctx context.Context, team id.TeamID, creator id.UserID, req Request) (db.TemplateBuild, error) {
	if err := req.Normalize(b.svc.Limits()); err != nil {
		return db.TemplateBuild{}, err
	}
	if _, err := b.st.GetPlatformOrAnyTemplateByName(ctx, req.Name); err == nil {
		return db.TemplateBuild{}, fmt.Errorf("template %q: %w: a template has this name", req.Name, sandbox.ErrConflict)
	} else if !errors.Is(store.Map(err), store.ErrNotFound) {
		return db.TemplateBuild{}, store.Map(err)
	}
	recipe, _ := json.Marshal(req.Recipe)
	var hc json.RawMessage
	if req.Healthcheck != nil {
		hc, _ = json.Marshal(req.Healthcheck)
	}
	p := db.CreateBuildParams{ID: id.NewBuildID(), Name: req.Name, TeamID: team, BaseTemplate: req.BaseTemplate,
		Recipe: recipe, TotalSteps: int32(len(req.Recipe)), StartCmd: req.StartCmd, Healthcheck: hc,
		Vcpus: float32(req.VCPUs), MemoryMb: int32(req.MemoryMB), DiskSizeMb: int32(req.DiskSizeMB), StepTimeoutSec: int32(req.StepTimeoutSec)}
	if !creator.IsZero() {
		u := creator.UUID()
		p.CreatedBy = &u
	}
	bld, err := b.st.CreateBuild(ctx, p)
	if err != nil {
		if errors.Is(store.Map(err), store.ErrConflict) {
			return bld, fmt.Errorf("build %q: %w: a build of this name is already queued or running", req.Name, sandbox.ErrConflict)
		}
		return bld, store.Map(err)
	}
	b.poke()
	return bld, nil
}

// Cancel stops a build: a queued one at once, a running one within the poll
// interval (its step is killed, its sandbox destroyed).
func (b *Builder) Cancel(ctx context.Context, bid id.BuildID) (db.TemplateBuild, error) {
	bld, err := b.st.RequestBuildCancel(ctx, bid)
	if err != nil {
		if errors.Is(store.Map(err), store.ErrNotFound) {
			if _, gerr := b.st.GetBuild(ctx, bid); gerr == nil {
				return bld, fmt.Errorf("build %s: %w: it has already finished", bid, sandbox.ErrConflict)
			}
		}
		return bld, store.Map(err)
	}
	b.mu.Lock()
	if cancel := b.running[bid]; cancel != nil {
		cancel()
	}
	b.mu.Unlock()
	return bld, nil
}

func (b *Builder) poke() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Recover fails the builds this node was running when it stopped: their build
// sandboxes did not survive. Call it at start, before Dispatch.
func (b *Builder) Recover(ctx context.Context) error {
	rows, err := b.st.ListNodeRunningBuilds(ctx, nodePtr(b.node))
	if err != nil {
		return store.Map(err)
	}
	for _, r := range rows {
		if _, err := b.st.FailBuild(ctx, db.FailBuildParams{ID: r.ID, Status: "failed", Error: "the node running this build restarted; submit it again"}); err != nil {
			return store.Map(err)
		}
		b.log.Warn("build failed by a node restart", "build", r.ID)
	}
	return nil
}

func nodePtr(n id.NodeID) *uuid.UUID {
	u := n.UUID()
	return &u
}

// Dispatch claims queued builds for the nodes with free worker slots until ctx
// is done. It is the leader's loop; term is the leader's raft term, which must
// hold the fence in Postgres (store.AdvanceFence): every claim is a fenced write.
// It returns nil when ctx ends, or an error wrapping store.ErrFenced as soon as
// a claim is refused because a newer leader took office (no claim of this term
// can succeed any more).
func (b *Builder) Dispatch(ctx context.Context, term uint64) error {
	t := time.NewTicker(b.cfg.Poll)
	defer t.Stop()
	for {
		if err := b.DispatchOnce(ctx, term); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-b.wake:
		}
	}
}

// DispatchOnce is one round of Dispatch: it claims queued builds for the free
// slots it sees now. It returns an error only when the fence refused a claim
// (wrapping store.ErrFenced); other failures are logged and left to the next round.
func (b *Builder) DispatchOnce(ctx context.Context, term uint64) error {
	targets := b.targets(ctx)
	total := 0
	for _, t := range targets {
		total += t.Free
	}
	if total <= 0 {
		return nil
	}
	queued, err := b.st.ListQueuedBuilds(ctx, int32(total))
	if err != nil {
		if ctx.Err() == nil {
			b.log.Warn("dispatcher: listing queued builds", "err", err)
		}
		return nil
	}
	for _, q := range queued {
		// The node with the most free slots takes the next build.
		best := -1
		for i, t := range targets {
			if t.Free > 0 && (best < 0 || t.Free > targets[best].Free) {
				best = i
			}
		}
		if best < 0 {
			return nil
		}
		target := targets[best].Node
		var bld db.TemplateBuild
		err := b.st.Fenced(ctx, term, func(tx *db.Queries) (err error) {
			bld, err = tx.ClaimBuild(ctx, db.ClaimBuildParams{ID: q.ID, NodeID: nodePtr(target), LeaderTerm: int64(term)})
			return store.Map(err)
		})
		if errors.Is(err, store.ErrFenced) {
			return fmt.Errorf("dispatcher: claiming build %s: %w", q.ID, err)
		}
		if err != nil {
			continue // claimed by someone else or cancelled meanwhile (or Postgres failed: next round)
		}
		targets[best].Free--
		if target == b.node {
			b.start(bld)
		}
		// Another node's worker loop (RunAssigned) picks up what was claimed for it.
	}
	return nil
}

// targets returns the nodes that may take builds now.
func (b *Builder) targets(ctx context.Context) []Target {
	if b.cfg.Targets != nil {
		return b.cfg.Targets(ctx)
	}
	if b.svc.Draining() {
		return nil
	}
	return []Target{{Node: b.node, Free: b.FreeSlots()}}
}

// FreeSlots is how many more builds this node can run now.
func (b *Builder) FreeSlots() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(0, b.cfg.Workers-len(b.running))
}

// RunAssigned starts the builds the leader claimed for this node, polling until
// ctx is done. Every node runs it; the leader also starts its own at once.
func (b *Builder) RunAssigned(ctx context.Context) {
	t := time.NewTicker(b.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if b.crashed.Load() {
			return
		}
		rows, err := b.st.ListNodeRunningBuilds(ctx, nodePtr(b.node))
		if err != nil {
			continue
		}
		for _, r := range rows {
			// Never more than Workers at once, even if the leader's view of
			// our free slots was stale: the rest wait for a slot.
			b.mu.Lock()
			full := len(b.running) >= b.cfg.Workers && !b.started[r.ID]
			b.mu.Unlock()
			if full {
				break
			}
			b.start(r)
		}
	}
}

// start runs a claimed build on a worker slot, unless this process already
// ran it.
func (b *Builder) start(bld db.TemplateBuild) {
	ctx, cancel := context.WithCancel(context.Background())
	b.mu.Lock()
	if b.started[bld.ID] {
		b.mu.Unlock()
		cancel()
		return
	}
	b.started[bld.ID] = true
	b.running[bld.ID] = cancel
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer func() {
			cancel()
			b.mu.Lock()
			delete(b.running, bld.ID)
			b.mu.Unlock()
			b.poke()
		}()
		b.run(ctx, cancel, bld)
	}()
}

// Running returns how many builds this node is running.
func (b *Builder) Running() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.running)
}

// Crash stops every worker as a crash would: running builds are abandoned
// without a word to Postgres (their rows stay running until the leader sees
// the node dead) and nothing new starts. For failure tests.
func (b *Builder) Crash() {
	b.crashed.Store(true)
	b.Close()
}

// Close cancels running builds (they are recorded as failed) and waits.
func (b *Builder) Close() {
	b.mu.Lock()
	for _, c := range b.running {
		c()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

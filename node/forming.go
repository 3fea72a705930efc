package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// baseLockID is the Postgres advisory lock the node building the base
// template holds for the whole build ("warb"; below 2^31 so pg_locks shows it
// as classid 0, objid baseLockID). A session lock: a builder that dies drops
// it with its connection, and a waiting node takes over.
const baseLockID = 0x77617262

// baseLockApp prefixes the application_name of the session holding the base
// lock, so waiting nodes can say which node builds.
const baseLockApp = "warren-base-builder "

// formingState is what the node still waits for before it is ready, for
// /readyz ("" when nothing).
type formingState struct {
	mu      sync.Mutex
	waiting string
}

func (s *formingState) set(w string) {
	s.mu.Lock()
	s.waiting = w
	s.mu.Unlock()
}

func (s *formingState) get() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiting
}

// readiness answers /readyz: what the node waits for, and what it serves
// without (no cluster leader: placement of new sandboxes and leader tasks
// wait; running sandboxes, reads and everything Postgres serves go on).
func (n *Node) readiness() (waitingFor, degraded string) {
	waitingFor = n.forming.get()
	if n.cluster != nil && n.cluster.c != nil {
		if _, ok := n.cluster.c.Leader(); !ok {
			degraded = "cluster quorum: no leader (too few servers reachable, or an election is under way); new sandboxes and builds wait, running sandboxes and reads are served"
		}
	}
	return waitingFor, degraded
}

// baseFormer brings the base template to this node, racing any number of
// nodes started at once: whoever takes the base lock with no template row
// builds it; the others wait while the lock is held, then pull the image from
// a peer holding it. Benign races (the row appearing meanwhile, a peer not yet
// a gossip member, a conflict on the row) are retried; the funcs make it
// testable without a pool or a cluster.
type baseFormer struct {
	st    *store.Store
	node  id.NodeID
	state *formingState
	log   *slog.Logger
	// have says whether this node's pool holds the template's image.
	have func(ctx context.Context, tpl id.TemplateID) (bool, error)
	// build builds the image and records the template row with this node's
	// replica; called under the base lock, with no row present.
	build func(ctx context.Context) error
	// pull copies the image from a peer that holds it.
	pull func(ctx context.Context, tpl id.TemplateID) error
	// reimport imports this node's own build under the row's ID (no peer
	// holds it, or pulling failed for pullFor).
	reimport func(ctx context.Context, tpl id.TemplateID) error
	poll     time.Duration // between looks while another node builds
	pullFor  time.Duration // how long pulls may fail before reimport
	dbFor    time.Duration // how long Postgres may fail before giving up (default 1 min)
}

// run returns once this node holds the base image, ctx ends, or a build or
// Postgres fails for good.
func (f *baseFormer) run(ctx context.Context) error {
	if f.dbFor <= 0 {
		f.dbFor = time.Minute
	}
	var pullSince, dbSince time.Time
	dbFailed := func(what string, err error) error {
		if dbSince.IsZero() {
			dbSince = time.Now()
		}
		if time.Since(dbSince) > f.dbFor {
			return fmt.Errorf("%s: %w", what, err)
		}
		f.log.Warn("forming the base template: postgres", "what", what, "err", err)
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		tpl, err := f.st.GetTemplateByTeamAndName(ctx, db.GetTemplateByTeamAndNameParams{Name: BaseTemplate, TeamID: id.PlatformTeamID})
		switch err = store.Map(err); {
		case err == nil:
			dbSince = time.Time{}
			ok, err := f.have(ctx, tpl.ID)
			if err != nil {
				return err
			}
			if ok {
				f.state.set("")
				return nil
			}
			if pullSince.IsZero() {
				pullSince = time.Now()
			}
			if err := f.fetch(ctx, tpl.ID, time.Since(pullSince) > f.pullFor); err != nil {
				f.log.Warn("base template image not here yet", "template", tpl.ID, "err", err)
				f.sleep(ctx, time.Second)
			}
			continue
		case !errors.Is(err, store.ErrNotFound):
			if err := dbFailed("reading the base template", err); err != nil {
				return err
			}
			f.sleep(ctx, time.Second)
			continue
		}
		release, held, err := f.tryLock(ctx)
		if err != nil {
			if err := dbFailed("taking the base lock", err); err != nil {
				return err
			}
			f.sleep(ctx, time.Second)
			continue
		}
		dbSince = time.Time{}
		if !held {
			f.state.set("base template (built by " + f.holder(ctx) + ")")
			f.sleep(ctx, f.poll)
			continue
		}
		if err := f.buildLocked(ctx); err != nil {
			release()
			return err
		}
		release()
	}
}

// buildLocked builds the base template unless its row appeared between the
// first look and taking the lock. A conflict on the name (a node that did not
// take the lock) is benign: the next round pulls.
func (f *baseFormer) buildLocked(ctx context.Context) error {
	_, err := f.st.GetTemplateByTeamAndName(ctx, db.GetTemplateByTeamAndNameParams{Name: BaseTemplate, TeamID: id.PlatformTeamID})
	if err == nil {
		return nil
	}
	if err := store.Map(err); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	f.state.set("base template (building it here, node " + f.node.String() + ")")
	f.log.Info("building the base template; other nodes wait for it")
	if err := f.build(ctx); err != nil {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, sandboxes.ErrConflict) {
			f.log.Info("the base template appeared while building it here; pulling instead", "err", err)
			return nil
		}
		return err
	}
	return nil
}

// fetch brings the image of template tpl here: pulled from a peer, or, when
// no other node holds it or fallback is set, imported from this node's own
// build under the row's ID.
func (f *baseFormer) fetch(ctx context.Context, tpl id.TemplateID, fallback bool) error {
	reps, err := f.st.ListTemplateReplicas(ctx, tpl)
	if err != nil {
		return store.Map(err)
	}
	var from []string
	for _, r := range reps {
		if r.NodeID != f.node {
			from = append(from, r.NodeID.String())
		}
	}
	if len(from) == 0 || fallback {
		if fallback {
			f.log.Warn("pulling the base image kept failing; importing this node's own build", "template", tpl, "peers", from)
		}
		f.state.set("base template image (building it here)")
		return f.reimport(ctx, tpl)
	}
	f.state.set(fmt.Sprintf("base template image (pulling from %v)", from))
	return f.pull(ctx, tpl)
}

// tryLock takes the base lock on a connection of its own, named after this
// node; release drops the connection, and the lock with it.
func (f *baseFormer) tryLock(ctx context.Context) (release func(), held bool, err error) {
	conn, err := f.st.Pool.Acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", int64(baseLockID)).Scan(&held); err != nil {
		conn.Release()
		return nil, false, err
	}
	if !held {
		conn.Release()
		return nil, false, nil
	}
	pc := conn.Hijack() // closing it is what releases the lock
	release = func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = pc.Close(cctx)
	}
	if _, err := pc.Exec(ctx, "SELECT set_config('application_name', $1, false)", baseLockApp+f.node.String()); err != nil {
		release()
		return nil, false, err
	}
	return release, true, nil
}

// holder names the node holding the base lock, as its session says.
func (f *baseFormer) holder(ctx context.Context) string {
	var app string
	err := f.st.Pool.QueryRow(ctx, `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid::bigint = $1::bigint AND l.objsubid = 1`,
		int64(baseLockID)).Scan(&app)
	if err != nil || len(app) <= len(baseLockApp) || app[:len(baseLockApp)] != baseLockApp {
		return "another node"
	}
	return app[len(baseLockApp):]
}

func (f *baseFormer) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

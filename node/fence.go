package node

import (
	"context"
	"errors"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// Fencing: a leader task runs with the raft term it leads in. Before it starts,
// the term takes office in Postgres (store.AdvanceFence raises cluster_fence to
// it); every write it makes then goes through store.Fenced, which refuses it once
// a newer term has taken office. A deposed leader that has not yet noticed its
// loss (a partition, a long pause) therefore writes nothing.

// fenced wraps a leader task: the term takes office first (retried while
// Postgres does not answer), and the task does not start when a newer term
// holds the fence. A task that returns an error was refused by the fence: it is
// logged and the task ends, since no write of its term can succeed again.
func (cn *clusterNode) fenced(name string, task func(ctx context.Context, term uint64) error) func(context.Context, uint64) {
	return func(ctx context.Context, term uint64) {
		log := cn.n.log.With("task", name, "term", term)
		if err := cn.takeOffice(ctx, term); err != nil {
			if ctx.Err() == nil {
				log.Error("leader task not started: a newer leader holds the fence", "err", err)
			}
			return
		}
		if err := task(ctx, term); err != nil {
			log.Error("leader task stopped: its writes are refused by the fence, a newer leader took office", "err", err)
		}
	}
}

// takeOffice raises the fence to term. A fence already above term is final
// (an error wrapping store.ErrFenced); any other failure is retried with
// backoff until ctx ends.
func (cn *clusterNode) takeOffice(ctx context.Context, term uint64) error {
	delay := 250 * time.Millisecond
	for {
		err := cn.n.store.AdvanceFence(ctx, term)
		if err == nil || errors.Is(err, store.ErrFenced) || errors.Is(err, store.ErrInvalid) {
			return err
		}
		if ctx.Err() != nil { // leadership ended while the raise was in flight
			return ctx.Err()
		}
		cn.n.log.Warn("raising the leader fence failed; retrying", "term", term, "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// reconcileNode records what a dead node ran as ended, in one fenced
// transaction: its live sandboxes lost and its running builds failed, both or
// neither, and only while term holds the fence.
func (cn *clusterNode) reconcileNode(ctx context.Context, term uint64, node id.NodeID) (lost []id.SandboxID, failed []id.BuildID, err error) {
	u := node.UUID()
	err = cn.n.store.Fenced(ctx, term, func(q *db.Queries) error {
		var err error
		if lost, err = q.MarkNodeSandboxesLost(ctx, db.MarkNodeSandboxesLostParams{NodeID: &u, Error: "the node running this sandbox was lost"}); err != nil {
			return store.Map(err)
		}
		failed, err = q.FailNodeRunningBuilds(ctx, db.FailNodeRunningBuildsParams{NodeID: &u, Error: "the node running this build was lost; submit it again"})
		return store.Map(err)
	})
	if err != nil {
		return nil, nil, err
	}
	return lost, failed, nil
}

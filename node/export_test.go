package node

import "context"

// DispatchOnce runs one round of this node's build dispatcher with term, as the
// leader's "builds" task does: a test can send the round a deposed leader sends
// late, with the term it led in.
func (n *Node) DispatchOnce(ctx context.Context, term uint64) error {
	return n.builder.DispatchOnce(ctx, term)
}

// ReconcileDead runs one round of this node's reconciler with term, as the
// leader's "reconciler" task does, over the members this node sees dead.
func (n *Node) ReconcileDead(ctx context.Context, term uint64) error {
	return n.cluster.reconcileDead(ctx, term)
}

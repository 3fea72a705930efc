package node

import (
	"context"

	"github.com/warrenhq/warren/builder"
)

// openBuilder starts the node's build workers. The dispatcher is a leader task
// (registered in openCluster); every node's RunAssigned loop starts the builds
// the leader claimed for it.
func (n *Node) openBuilder(ctx context.Context) error {
	b := builder.New(builder.Config{Workers: n.cfg.BuildWorkers, Logger: n.log,
		Targets: func(ctx context.Context) []builder.Target { return n.cluster.buildTargets(ctx) },
	}, n.store, n.service, n.pool, n.ID)
	if err := b.Recover(ctx); err != nil {
		return err
	}
	n.builder = b
	bg, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.RunAssigned(bg)
	}()
	n.closers = append(n.closers, func(context.Context) error {
		cancel()
		<-done
		b.Close()
		return nil
	})
	return nil
}

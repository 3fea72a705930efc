package node

import (
	"context"

	"github.com/warrenhq/warren/builder"
)

// openBuilder starts the node's build workers and, as this node leads (a single
// node is its own leader, term 1, until the cluster elects one), the dispatcher.
func (n *Node) openBuilder(ctx context.Context) error {
	b := builder.New(builder.Config{Workers: n.cfg.BuildWorkers, Logger: n.log}, n.store, n.service, n.pool, n.ID)
	if err := b.Recover(ctx); err != nil {
		return err
	}
	n.builder = b
	bg, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Dispatch(bg, 1)
	}()
	n.closers = append(n.closers, func(context.Context) error {
		cancel()
		<-done
		b.Close()
		return nil
	})
	return nil
}

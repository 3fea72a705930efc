package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// startRaft opens the raft stores under DataDir/raft, binds the raft transport and
// starts raft. On error nothing is left open.
func (c *Cluster) startRaft() (err error) {
	dir := filepath.Join(c.cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create raft dir %s: %w", dir, err)
	}
	hl := hcLogger(c.log, "raft")
	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
		}
	}()
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		return fmt.Errorf("open raft store in %s: %w", dir, err)
	}
	closers = append(closers, store.Close)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hl)
	if err != nil {
		return fmt.Errorf("open raft snapshots in %s: %w", dir, err)
	}
	stream, err := newStreamLayer(c.cfg.RaftAddr, c.cfg.AdvertiseRaft, c.cfg.ClusterKey, c.cfg.NodeID)
	if err != nil {
		return err
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: stream, MaxPool: 3, Timeout: 5 * time.Second, Logger: hl,
	})
	closers = append(closers, trans.Close)
	logs, err := raft.NewLogCache(512, store)
	if err != nil {
		return fmt.Errorf("raft log cache: %w", err)
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.cfg.NodeID)
	rc.HeartbeatTimeout = c.cfg.RaftHeartbeatTimeout
	rc.ElectionTimeout = c.cfg.RaftElectionTimeout
	rc.LeaderLeaseTimeout = c.cfg.RaftLeaderLeaseTimeout
	rc.CommitTimeout = 20 * time.Millisecond
	rc.Logger = hl
	rc.NotifyCh = c.leaderCh
	if err := raft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("%w: raft config: %v", ErrInvalid, err)
	}
	r, err := raft.NewRaft(rc, c.fsm, logs, store, snaps, trans)
	if err != nil {
		return fmt.Errorf("start raft on %s: %w", c.cfg.RaftAddr, err)
	}
	c.raft, c.raftStore, c.raftTrans = r, store, trans
	c.raftAdvertise = string(trans.LocalAddr())
	return nil
}

func (c *Cluster) stopRaft() {
	if c.raft == nil {
		return
	}
	if err := c.raft.Shutdown().Error(); err != nil {
		c.log.Warn("raft shutdown", "err", err)
	}
	c.raftTrans.Close()
	if err := c.raftStore.Close(); err != nil {
		c.log.Warn("close raft store", "err", err)
	}
}

// raftMember reports whether this server belongs to a raft configuration.
func (c *Cluster) raftMember() bool {
	f := c.raft.GetConfiguration()
	return f.Error() == nil && len(f.Configuration().Servers) > 0
}

// waitFuture waits for a raft future or the context, whichever ends first.
func waitFuture(ctx context.Context, f raft.Future) error {
	ch := make(chan error, 1)
	go func() { ch <- f.Error() }()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// notLeader maps raft's leadership errors to ErrNotLeader.
func notLeader(err error) error {
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) ||
		errors.Is(err, raft.ErrLeadershipTransferInProgress) || errors.Is(err, raft.ErrRaftShutdown) {
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	}
	return err
}

package cluster

import (
	"errors"
	"sort"
	"time"

	"github.com/hashicorp/raft"
)

// bootstrapLoop waits until BootstrapExpect servers are seen through gossip, then
// bootstraps raft (Nomad's bootstrap-expect). Every server computes the same
// configuration (all seen servers sorted by ID) and calls BootstrapCluster with it.
// It stops early when this server is already part of a raft configuration, or when
// another seen server is (then the leader adds this one as a voter).
func (c *Cluster) bootstrapLoop() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if c.maybeBootstrap() {
			return
		}
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		case <-c.bootstrapCh:
		}
	}
}

// maybeBootstrap reports whether bootstrapping is settled (done or not needed).
func (c *Cluster) maybeBootstrap() bool {
	if c.raftMember() {
		return true
	}
	var servers []Member
	for _, m := range c.members.list() {
		if m.Status != StatusAlive || m.Meta.Role != RoleServer || m.Meta.RaftAddr == "" {
			continue
		}
		if m.ID != c.cfg.NodeID && m.Meta.RaftMember {
			c.log.Info("a raft cluster exists; waiting to be added by its leader", "seen", m.ID)
			return true
		}
		if m.Meta.BootstrapExpect != 0 && m.Meta.BootstrapExpect != c.cfg.BootstrapExpect {
			c.log.Error("bootstrap-expect mismatch; not bootstrapping",
				"ours", c.cfg.BootstrapExpect, "server", m.ID, "theirs", m.Meta.BootstrapExpect)
			return false
		}
		servers = append(servers, m)
	}
	if len(servers) < c.cfg.BootstrapExpect {
		return false
	}
	sort.Slice(servers, func(i, j int) bool { return servers[i].ID < servers[j].ID })
	var conf raft.Configuration
	ids := make([]string, 0, len(servers))
	for _, m := range servers {
		conf.Servers = append(conf.Servers, raft.Server{
			Suffrage: raft.Voter, ID: raft.ServerID(m.ID), Address: raft.ServerAddress(m.Meta.RaftAddr),
		})
		ids = append(ids, m.ID)
	}
	c.log.Info("bootstrapping raft", "servers", ids)
	if err := c.raft.BootstrapCluster(conf).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		c.log.Error("bootstrap raft", "err", err)
		return false
	}
	c.nudgeMeta()
	return true
}

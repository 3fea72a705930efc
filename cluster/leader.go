package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// leaderTask is a registered leader-only loop.
type leaderTask struct {
	name string
	fn   func(ctx context.Context, term uint64)
}

// tasks runs the registered leader tasks while this node leads.
type tasks struct {
	mu   sync.Mutex
	list []leaderTask
	ctx  context.Context // non-nil while leading
	term uint64
	wg   sync.WaitGroup
	log  func(msg string, args ...any)
}

func (t *tasks) register(lt leaderTask) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.list = append(t.list, lt)
	if t.ctx != nil {
		t.run(lt)
	}
}

func (t *tasks) start(ctx context.Context, term uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ctx, t.term = ctx, term
	for _, lt := range t.list {
		t.run(lt)
	}
}

// stop waits for the tasks, whose context the caller has cancelled, to return.
func (t *tasks) stop() {
	t.mu.Lock()
	t.ctx = nil
	t.mu.Unlock()
	t.wg.Wait()
}

func (t *tasks) run(lt leaderTask) {
	ctx, term := t.ctx, t.term
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.log("leader task started", "task", lt.name, "term", term)
		lt.fn(ctx, term)
		t.log("leader task stopped", "task", lt.name, "term", term)
	}()
}

// monitorLeadership starts leaderLoop when raft reports leadership and stops it when
// leadership is lost (Nomad's monitorLeadership).
func (c *Cluster) monitorLeadership() {
	var stop context.CancelFunc
	var done chan struct{}
	halt := func() {
		if stop != nil {
			c.leadTerm.Store(0) // before the tasks see their context end
			stop()
			<-done
			stop, done = nil, nil
		}
	}
	for {
		select {
		case isLeader := <-c.leaderCh:
			if !isLeader {
				halt()
				continue
			}
			if stop != nil {
				continue
			}
			ctx, cancel := context.WithCancel(c.ctx)
			stop = cancel
			done = make(chan struct{})
			go func() {
				defer close(done)
				c.leaderLoop(ctx)
			}()
		case <-c.ctx.Done():
			halt()
			return
		}
	}
}

// leaderLoop establishes leadership, runs the leader tasks and reconciles raft
// membership with gossip until ctx is cancelled.
func (c *Cluster) leaderLoop(ctx context.Context) {
	term, ok := c.establishLeadership(ctx)
	if !ok {
		return
	}
	c.log.Info("leadership established", "term", term)
	c.leadTerm.Store(term)
	c.nudgeMeta()
	c.tasks.start(ctx, term)
	defer func() {
		c.leadTerm.Store(0)
		c.tasks.stop()
		c.nudgeMeta()
		c.log.Info("leadership lost", "term", term)
	}()
	t := time.NewTicker(c.cfg.ReconcileInterval)
	defer t.Stop()
	for {
		c.reconcile()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.reconcileCh:
		}
	}
}

// establishLeadership issues a barrier, so the FSM holds every earlier entry, then
// records the fencing epoch. It retries until it succeeds or ctx ends.
func (c *Cluster) establishLeadership(ctx context.Context) (uint64, bool) {
	for {
		err := waitFuture(ctx, c.raft.Barrier(5*time.Second))
		if err == nil {
			term := c.raft.CurrentTerm()
			data, _ := json.Marshal(Command{Op: OpNewEpoch, Term: term, Leader: c.cfg.NodeID})
			f := c.raft.Apply(data, 5*time.Second)
			if err = waitFuture(ctx, f); err == nil {
				if resp, ok := f.Response().(error); ok {
					err = resp
				} else {
					return term, true
				}
			}
		}
		if ctx.Err() != nil || errors.Is(notLeader(err), ErrNotLeader) {
			c.log.Warn("establish leadership", "err", err)
			return 0, false
		}
		c.log.Error("establish leadership, retrying", "err", err)
		select {
		case <-ctx.Done():
			return 0, false
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// reconcile makes the raft configuration follow gossip: alive servers become voters;
// servers that left are removed at once, dead ones after DeadServerGrace, as long as
// the dead ones are fewer than half the voters (autopilot's rule).
func (c *Cluster) reconcile() {
	f := c.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		c.log.Warn("reconcile: raft configuration", "err", err)
		return
	}
	inRaft := map[string]raft.Server{}
	voters := 0
	for _, s := range f.Configuration().Servers {
		inRaft[string(s.ID)] = s
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	members := map[string]Member{}
	for _, m := range c.members.list() {
		members[m.ID] = m
		if m.Meta.Role != RoleServer || m.Meta.RaftAddr == "" || m.Status != StatusAlive {
			continue
		}
		if s, ok := inRaft[m.ID]; ok && string(s.Address) == m.Meta.RaftAddr {
			continue
		}
		c.log.Info("adding raft voter", "server", m.ID, "addr", m.Meta.RaftAddr)
		err := c.raft.AddVoter(raft.ServerID(m.ID), raft.ServerAddress(m.Meta.RaftAddr), 0, 5*time.Second).Error()
		if err != nil {
			c.log.Warn("add raft voter", "server", m.ID, "err", err)
		}
	}
	var dead []string
	for id := range inRaft {
		m, ok := members[id]
		switch {
		case id == c.cfg.NodeID || !ok:
		case m.Status == StatusLeft:
			c.removeServer(id, "left")
		case m.Status == StatusDead && time.Since(m.Since) > c.cfg.DeadServerGrace:
			dead = append(dead, id)
		}
	}
	if len(dead) == 0 {
		return
	}
	if float64(len(dead)) >= float64(voters)/2 {
		c.log.Warn("not removing dead raft servers: too many failed", "dead", dead, "voters", voters)
		return
	}
	sort.Strings(dead)
	for _, id := range dead {
		c.removeServer(id, "dead")
	}
}

func (c *Cluster) removeServer(id, why string) {
	c.log.Info("removing raft server", "server", id, "reason", why)
	if err := c.raft.RemoveServer(raft.ServerID(id), 0, 5*time.Second).Error(); err != nil {
		c.log.Warn("remove raft server", "server", id, "err", err)
	}
}

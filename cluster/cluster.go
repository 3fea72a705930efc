package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Errors.
var (
	// ErrNotLeader: the call needs the raft leader and this node is not it (or is
	// not a server). Forward to Leader() and retry.
	ErrNotLeader = errors.New("not the cluster leader")
	// ErrNotServer: the call needs raft state and this node is not a server.
	ErrNotServer = errors.New("not a server node")
)

// Cluster is this node's membership in the Warren cluster. All methods are safe
// for concurrent use.
type Cluster struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context // cancelled by Close/Shutdown
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	ml         *memberlist.Memberlist
	gossipAddr string
	meta       atomic.Pointer[[]byte] // our encoded meta
	drain      atomic.Bool
	leaveMu    sync.Mutex // orders meta broadcasts against Leave
	left       bool
	leaving    atomic.Bool
	boot       uint64      // Meta.Boot: random per start
	ownIntent  atomic.Bool // our leave intent is out: push/pull carries it
	bcast      *memberlist.TransmitLimitedQueue
	obsMu      sync.Mutex // orders member-table changes with their events
	members    memberTable
	events     broker

	metaDirty   chan struct{}
	reconcileCh chan struct{}
	bootstrapCh chan struct{}

	// Servers only.
	fsm           *FSM
	raft          *raft.Raft
	raftStore     *raftboltdb.BoltStore
	raftTrans     *raft.NetworkTransport
	raftAdvertise string
	leaderCh      chan bool
	leadTerm      atomic.Uint64 // term of established leadership, 0 when not leading
	tasks         tasks
}

// Open starts gossip (and raft on servers), joins Config.Join — retrying for up to
// Config.JoinTimeout — and returns the running node. On error nothing is left
// running or bound.
func Open(ctx context.Context, cfg Config) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := newCluster(cfg)
	if cfg.Server {
		c.fsm = NewFSM()
		c.leaderCh = make(chan bool, 16)
		if err := c.startRaft(); err != nil {
			c.cancel()
			return nil, err
		}
	}
	if err := c.startGossip(); err != nil {
		c.cancel()
		c.stopRaft()
		return nil, err
	}
	c.goRun(c.metaLoop)
	if cfg.Server {
		c.goRun(c.monitorLeadership)
		if cfg.BootstrapExpect > 0 {
			c.goRun(c.bootstrapLoop)
		}
	}
	if len(cfg.Join) > 0 {
		if err := c.joinRetry(ctx); err != nil {
			c.Shutdown()
			return nil, err
		}
	}
	return c, nil
}

// newCluster returns the node's in-memory state, nothing started yet.
func newCluster(cfg Config) *Cluster {
	c := &Cluster{
		cfg:         cfg,
		log:         cfg.Logger,
		boot:        rand.Uint64(),
		members:     memberTable{members: map[string]Member{}, intents: map[leaveIntent]time.Time{}},
		metaDirty:   make(chan struct{}, 1),
		reconcileCh: make(chan struct{}, 1),
		bootstrapCh: make(chan struct{}, 1),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("node", cfg.NodeID)
	c.bcast = &memberlist.TransmitLimitedQueue{NumNodes: c.members.numAlive, RetransmitMult: memberlist.DefaultLANConfig().RetransmitMult}
	c.tasks.log = func(msg string, args ...any) { c.log.Info(msg, args...) }
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

func (c *Cluster) goRun(fn func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
}

func (c *Cluster) joinRetry(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.JoinTimeout)
	defer cancel()
	for {
		n, err := c.ml.Join(c.cfg.Join)
		if n > 0 {
			c.log.Info("joined cluster", "contacted", n)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("join %v: %w (last error: %v)", c.cfg.Join, ErrUnavailable, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// ErrUnavailable: no member could be reached.
var ErrUnavailable = errors.New("cluster unavailable")

// Join contacts more existing members; it returns how many answered.
func (c *Cluster) Join(addrs ...string) (int, error) {
	n, err := c.ml.Join(addrs)
	if err != nil && n == 0 {
		return 0, fmt.Errorf("join %v: %w: %v", addrs, ErrUnavailable, err)
	}
	return n, nil
}

// Close leaves the cluster gracefully: a leading server first transfers leadership,
// then the node broadcasts its leave (peers see StatusLeft and the leader removes a
// departed server from raft at once) and stops. Safe to call more than once.
func (c *Cluster) Close() error { return c.stop(true) }

// Shutdown stops the node without leaving, as a crash would: peers declare it dead
// after their failure detector's timeouts. Safe to call more than once.
func (c *Cluster) Shutdown() error { return c.stop(false) }

func (c *Cluster) stop(leave bool) error {
	var err error
	c.once.Do(func() {
		if leave && c.raft != nil && c.leadTerm.Load() != 0 {
			if e := c.raft.LeadershipTransfer().Error(); e != nil {
				c.log.Info("leadership transfer before leave", "err", e)
			}
		}
		if leave {
			c.leaving.Store(true)
			if _, err := c.refreshMeta(); err == nil {
				c.broadcastMeta() // the scheduler stops placing here at once
			}
			c.announceLeave(2 * time.Second) // see leave.go
			c.leaveMu.Lock()
			c.left = true
			if e := c.ml.Leave(2 * time.Second); e != nil {
				c.log.Warn("leave gossip", "err", e)
			}
			c.leaveMu.Unlock()
			// Keep gossiping a little so the leave reaches live members, not only
			// the dead ones memberlist still gossips to (Serf's propagate delay).
			time.Sleep(10 * c.cfg.GossipInterval)
		}
		c.cancel()
		c.wg.Wait()
		if e := c.ml.Shutdown(); e != nil {
			err = fmt.Errorf("shutdown gossip of %s: %w", c.cfg.NodeID, e)
		}
		c.stopRaft()
		c.events.closeAll()
	})
	return err
}

// ID returns this node's ID.
func (c *Cluster) ID() string { return c.cfg.NodeID }

// GossipAddr returns the address peers use to reach this node's gossip (useful with
// port 0).
func (c *Cluster) GossipAddr() string { return c.gossipAddr }

// RaftAddr returns the advertised raft address ("" on non-servers).
func (c *Cluster) RaftAddr() string { return c.raftAdvertise }

// Members returns every known member, sorted by ID, including dead and left ones
// until Config.TombstoneTimeout. Status comes from this node's failure detector.
func (c *Cluster) Members() []Member {
	return c.members.list()
}

// Member returns one member by ID.
func (c *Cluster) Member(id string) (Member, bool) {
	return c.members.get(id)
}

// Subscribe returns a channel of membership events, in order, from now on, and a
// function that ends the subscription. The channel closes when the subscription
// ends or the node stops. Events queue without bound: keep reading.
func (c *Cluster) Subscribe() (<-chan Event, func()) { return c.events.subscribe() }

// SetDrain sets this node's drain flag in its meta and broadcasts it at once.
func (c *Cluster) SetDrain(drain bool) {
	c.drain.Store(drain)
	c.nudgeMeta()
}

// UpdateMeta recomputes this node's meta (capacity included) and broadcasts it if it
// changed; call it when capacity changes. Meta is also refreshed every
// MetaRefreshInterval and re-broadcast every MetaBroadcastInterval.
func (c *Cluster) UpdateMeta() { c.nudgeMeta() }

func (c *Cluster) nudgeMeta() {
	select {
	case c.metaDirty <- struct{}{}:
	default:
	}
}

func (c *Cluster) nudge() {
	for _, ch := range []chan struct{}{c.reconcileCh, c.bootstrapCh} {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Leader returns the leader's node ID. Servers ask raft; non-servers use the leader
// reported with the highest term by an alive server, if that leader is alive.
func (c *Cluster) Leader() (string, bool) {
	if c.raft != nil {
		_, id := c.raft.LeaderWithID()
		return string(id), id != ""
	}
	var best Meta
	alive := map[string]bool{}
	for _, m := range c.members.list() {
		if m.Status != StatusAlive {
			continue
		}
		alive[m.ID] = true
		if m.Meta.Role == RoleServer && m.Meta.LeaderID != "" && m.Meta.Term >= best.Term {
			best = m.Meta
		}
	}
	if best.LeaderID == "" || !alive[best.LeaderID] {
		return "", false
	}
	return best.LeaderID, true
}

// IsLeader reports whether this node leads and has established leadership (its
// leader tasks are running).
func (c *Cluster) IsLeader() bool {
	return c.leadTerm.Load() != 0 && c.raft.State() == raft.Leader
}

// Term returns the current raft term: raft's on servers, the highest term reported
// by an alive server on non-servers.
func (c *Cluster) Term() uint64 {
	if c.raft != nil {
		return c.raft.CurrentTerm()
	}
	var t uint64
	for _, m := range c.members.list() {
		if m.Status == StatusAlive && m.Meta.Role == RoleServer && m.Meta.Term > t {
			t = m.Meta.Term
		}
	}
	return t
}

// VerifyLeader confirms with a quorum that this node still leads and returns the
// term it leads in (the fencing token); ErrNotLeader otherwise.
func (c *Cluster) VerifyLeader(ctx context.Context) (uint64, error) {
	if c.raft == nil {
		return 0, fmt.Errorf("%w: %s is not a server", ErrNotLeader, c.cfg.NodeID)
	}
	term := c.leadTerm.Load()
	if term == 0 {
		return 0, fmt.Errorf("%w: %s", ErrNotLeader, c.cfg.NodeID)
	}
	if err := waitFuture(ctx, c.raft.VerifyLeader()); err != nil {
		return 0, fmt.Errorf("verify leadership of %s: %w", c.cfg.NodeID, notLeader(err))
	}
	if c.leadTerm.Load() != term {
		return 0, fmt.Errorf("%w: %s lost term %d", ErrNotLeader, c.cfg.NodeID, term)
	}
	return term, nil
}

// Apply replicates cmd through raft and applies it to the FSM. Leader only: other
// nodes get ErrNotLeader. An FSM rejection (e.g. ErrInvalid) is returned as is.
func (c *Cluster) Apply(ctx context.Context, cmd Command) error {
	if c.raft == nil {
		return fmt.Errorf("%w: %s is not a server", ErrNotLeader, c.cfg.NodeID)
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		return fmt.Errorf("encode command %s: %w", cmd.Op, err)
	}
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	f := c.raft.Apply(data, timeout)
	if err := waitFuture(ctx, f); err != nil {
		return fmt.Errorf("apply %s: %w", cmd.Op, notLeader(err))
	}
	if err, ok := f.Response().(error); ok {
		return fmt.Errorf("apply %s: %w", cmd.Op, err)
	}
	return nil
}

// State returns this server's copy of the FSM state (it may lag the leader's).
func (c *Cluster) State() (State, error) {
	if c.fsm == nil {
		return State{}, fmt.Errorf("%w: %s", ErrNotServer, c.cfg.NodeID)
	}
	return c.fsm.State(), nil
}

// RegisterLeaderTask registers fn to run, in its own goroutine, whenever this node
// gains leadership (after a barrier and the fencing epoch are committed). term is
// the term it leads in; ctx is cancelled when leadership is lost or the node stops,
// and fn must then return: the next leadership starts only after it has. Tasks
// registered while leading start at once. On non-servers tasks never run.
func (c *Cluster) RegisterLeaderTask(name string, fn func(ctx context.Context, term uint64)) {
	c.tasks.register(leaderTask{name: name, fn: fn})
}

// RaftServer is one entry of the raft configuration.
type RaftServer struct {
	ID    string
	Addr  string
	Voter bool
}

// RaftServers returns the raft configuration as this server knows it.
func (c *Cluster) RaftServers() ([]RaftServer, error) {
	if c.raft == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotServer, c.cfg.NodeID)
	}
	f := c.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("raft configuration of %s: %w", c.cfg.NodeID, err)
	}
	var out []RaftServer
	for _, s := range f.Configuration().Servers {
		out = append(out, RaftServer{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}

package cluster

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// startGossip creates the memberlist and binds its listeners.
func (c *Cluster) startGossip() error {
	cfg := c.cfg
	host, portStr, _ := net.SplitHostPort(cfg.GossipAddr)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("%w: --gossip-addr %q: bad port", ErrInvalid, cfg.GossipAddr)
	}
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.NodeID
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertiseAddr, mc.AdvertisePort = "", port
	if cfg.AdvertiseGossip != "" {
		ah, ap, _ := net.SplitHostPort(cfg.AdvertiseGossip)
		if mc.AdvertisePort, err = strconv.Atoi(ap); err != nil {
			return fmt.Errorf("%w: --advertise %q: bad port", ErrInvalid, cfg.AdvertiseGossip)
		}
		mc.AdvertiseAddr = ah
	}
	mc.ProbeInterval = cfg.ProbeInterval
	mc.ProbeTimeout = cfg.ProbeTimeout
	mc.SuspicionMult = cfg.SuspicionMult
	mc.SuspicionMaxTimeoutMult = 2
	mc.GossipInterval = cfg.GossipInterval
	mc.PushPullInterval = cfg.PushPullInterval
	mc.DeadNodeReclaimTime = 10 * time.Second
	mc.TCPTimeout = 2 * time.Second
	mc.SecretKey = cfg.ClusterKey
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	mc.Delegate = &delegate{c}
	mc.Events = &events{c}
	mc.Logger = stdLogger(c.log, "memberlist")

	tr, err := newBoundTransport(host, port, mc)
	if err != nil {
		return fmt.Errorf("gossip listen on %s: %w", cfg.GossipAddr, err)
	}
	mc.Transport = tr
	if port == 0 {
		mc.BindPort = tr.GetAutoBindPort()
		if cfg.AdvertiseGossip == "" {
			mc.AdvertisePort = mc.BindPort
		}
	}
	// The initial meta must exist before Create: memberlist asks for it at once.
	if _, err := c.refreshMeta(); err != nil {
		tr.Shutdown()
		return err
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		tr.Shutdown()
		return fmt.Errorf("start gossip on %s: %w", cfg.GossipAddr, err)
	}
	c.ml = ml
	c.gossipAddr = ml.LocalNode().Address() // read once: memberlist updates it unlocked
	return nil
}

// boundTransport is memberlist's NetTransport whose outgoing TCP connections leave
// from the bind IP (when it is specific), so a peer and a firewall see the
// connection coming from the node's own address.
type boundTransport struct {
	*memberlist.NetTransport
	local net.IP
}

func newBoundTransport(host string, port int, mc *memberlist.Config) (*boundTransport, error) {
	nc := &memberlist.NetTransportConfig{BindAddrs: []string{host}, BindPort: port, Logger: mc.Logger}
	var err error
	for range 10 { // port 0: TCP and UDP must get the same port; retry on collisions
		var nt *memberlist.NetTransport
		if nt, err = memberlist.NewNetTransport(nc); err == nil {
			bt := &boundTransport{NetTransport: nt}
			if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
				bt.local = ip
			}
			return bt, nil
		}
		if port != 0 {
			break
		}
	}
	return nil, err
}

func (t *boundTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *boundTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if t.local != nil {
		d.LocalAddr = &net.TCPAddr{IP: t.local}
	}
	return d.Dial("tcp", a.Addr)
}

// delegate serves our meta to memberlist, and carries leave intents in user
// messages and push/pull state (leave.go).
type delegate struct{ c *Cluster }

func (d *delegate) NodeMeta(limit int) []byte {
	b := *d.c.meta.Load()
	if len(b) > limit { // cannot happen for a validated Config; memberlist would panic
		d.c.log.Error("node meta exceeds limit", "size", len(b), "limit", limit)
		return nil
	}
	return b
}
func (d *delegate) NotifyMsg(b []byte) {
	li, err := decodeIntentMsg(b)
	if err != nil {
		d.c.log.Warn("ignoring gossip message", "err", err)
		return
	}
	d.c.learnIntent(li)
}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.c.bcast.GetBroadcasts(overhead, limit)
}
func (d *delegate) LocalState(join bool) []byte            { return d.c.localState() }
func (d *delegate) MergeRemoteState(buf []byte, join bool) { d.c.mergeState(buf) }

// events records membership changes in the member table and publishes them.
type events struct{ c *Cluster }

func (e *events) NotifyJoin(n *memberlist.Node) { e.c.observe(n, StatusAlive, EventJoin) }
func (e *events) NotifyUpdate(n *memberlist.Node) {
	e.c.observe(n, StatusAlive, EventUpdate)
}

// NotifyLeave cannot tell a leave from a failure: memberlist passes a Node whose
// State field is never updated. A node that leaves gracefully first gossips meta
// with Leaving set and its leave intent (leave.go); observe reads a death as a
// leave when either arrived first, and an intent arriving later turns dead into
// left.
func (e *events) NotifyLeave(n *memberlist.Node) {
	if m, err := DecodeMeta(n.Meta); err == nil && m.Leaving {
		e.c.observe(n, StatusLeft, EventLeave)
		return
	}
	e.c.observe(n, StatusDead, EventFail)
}

func (c *Cluster) observe(n *memberlist.Node, st Status, typ EventType) {
	m := Member{ID: n.Name, GossipAddr: n.Address(), Status: st, Since: time.Now()}
	meta, err := DecodeMeta(n.Meta)
	if err != nil {
		c.log.Warn("ignoring undecodable member meta", "member", n.Name, "err", err)
	} else {
		m.Meta = meta
	}
	// Under obsMu: the table and the event stream change together, in one order,
	// with learnIntent's changes.
	c.obsMu.Lock()
	defer c.obsMu.Unlock()
	if err == nil && c.members.hasIntent(n.Name, meta.Boot) {
		m.Meta.Leaving = true // its intent outran its meta, or its death
		if st == StatusDead {
			m.Status, typ = StatusLeft, EventLeave
		}
	}
	prev, existed := c.members.set(m)
	if existed && prev.Status == m.Status {
		m.Since = prev.Since
		if typ == EventUpdate && metaEqual(prev.Meta, m.Meta) {
			return
		}
	}
	c.events.publish(Event{Type: typ, Member: m})
	c.nudge()
}

func metaEqual(a, b Meta) bool {
	ea, _ := EncodeMeta(a)
	eb, _ := EncodeMeta(b)
	return bytes.Equal(ea, eb)
}

// metaLoop recomputes the local meta, broadcasts it when it changed or every
// MetaBroadcastInterval, reaps tombstones and re-joins failed members.
func (c *Cluster) metaLoop() {
	refresh := time.NewTicker(c.cfg.MetaRefreshInterval)
	defer refresh.Stop()
	reconnect := time.NewTicker(c.cfg.ReconnectInterval)
	defer reconnect.Stop()
	last := time.Now()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.metaDirty:
		case <-refresh.C:
		case <-reconnect.C:
			c.reconnect()
			continue
		}
		changed, err := c.refreshMeta()
		if err != nil {
			c.log.Error("refresh node meta", "err", err)
			continue
		}
		if changed || time.Since(last) >= c.cfg.MetaBroadcastInterval {
			c.broadcastMeta()
			last = time.Now()
		}
		c.members.reap(time.Now(), c.cfg.TombstoneTimeout)
	}
}

// refreshMeta recomputes and stores the local meta; it reports whether it changed.
func (c *Cluster) refreshMeta() (bool, error) {
	m := Meta{
		ID: c.cfg.NodeID, Name: c.cfg.Name, Role: RoleClient,
		HTTPAddr: c.cfg.HTTPAddr, GRPCAddr: c.cfg.GRPCAddr, Version: c.cfg.Version,
		Drain: c.drain.Load(), Leaving: c.leaving.Load(), Boot: c.boot,
	}
	if c.cfg.Capacity != nil {
		m.Capacity = c.cfg.Capacity()
	}
	if c.cfg.Server {
		m.Role = RoleServer
		m.RaftAddr = c.raftAdvertise
		m.BootstrapExpect = c.cfg.BootstrapExpect
		if c.raft != nil {
			m.RaftMember = c.raftMember()
			_, lid := c.raft.LeaderWithID()
			m.LeaderID = string(lid)
			m.Term = c.raft.CurrentTerm()
		}
	}
	b, err := EncodeMeta(m)
	if err != nil {
		return false, err
	}
	old := c.meta.Load()
	if old != nil && bytes.Equal(*old, b) {
		return false, nil
	}
	c.meta.Store(&b)
	return true, nil
}

// reconnect tries to re-join one random failed (not left) member, which merges the
// two sides after a partition heals.
func (c *Cluster) reconnect() {
	var failed []Member
	for _, m := range c.members.list() {
		if m.Status == StatusDead {
			failed = append(failed, m)
		}
	}
	if len(failed) == 0 {
		return
	}
	m := failed[rand.IntN(len(failed))]
	if _, err := c.ml.Join([]string{m.GossipAddr}); err != nil {
		c.log.Debug("reconnect to failed member", "member", m.ID, "addr", m.GossipAddr, "err", err)
	}
}

// broadcastMeta announces our meta, unless we have left: an alive broadcast after
// Leave would refute the leave.
func (c *Cluster) broadcastMeta() {
	c.leaveMu.Lock()
	defer c.leaveMu.Unlock()
	if c.left {
		return
	}
	if err := c.ml.UpdateNode(time.Second); err != nil {
		c.log.Warn("broadcast node meta", "err", err)
	}
}

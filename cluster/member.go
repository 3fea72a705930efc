package cluster

import (
	"sort"
	"sync"
	"time"
)

// Status is a member's liveness as seen by this node's failure detector. There is
// no "suspect" status: memberlist does not expose suspicion through its API, so a
// suspected member stays alive until it is declared dead.
type Status string

// The member statuses.
const (
	StatusAlive Status = "alive"
	StatusDead  Status = "dead" // failed (crashed, unreachable, killed)
	StatusLeft  Status = "left" // left gracefully (Close)
)

// Member is one node as seen through gossip.
type Member struct {
	ID         string // node ID (memberlist name)
	GossipAddr string // host:port
	Status     Status
	Since      time.Time // when Status last changed, on this node's clock
	Meta       Meta      // zero if the node's meta could not be decoded
}

// EventType says what happened to a member.
type EventType string

// The event types.
const (
	EventJoin   EventType = "join"   // became alive (first seen or back from dead)
	EventLeave  EventType = "leave"  // left gracefully
	EventFail   EventType = "fail"   // declared dead
	EventUpdate EventType = "update" // meta changed
)

// Event is a membership change, delivered in order to every subscriber.
type Event struct {
	Type   EventType
	Member Member
}

// memberTable is this node's view of every member, including dead ones until their
// tombstone expires.
type memberTable struct {
	mu      sync.Mutex
	members map[string]Member
	intents map[leaveIntent]time.Time // leave intents heard, and when (see leave.go)
}

func (t *memberTable) set(m Member) (prev Member, existed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev, existed = t.members[m.ID]
	if existed && prev.Status == m.Status {
		m.Since = prev.Since
	}
	t.members[m.ID] = m
	return prev, existed
}

func (t *memberTable) get(id string) (Member, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.members[id]
	return m, ok
}

func (t *memberTable) list() []Member {
	t.mu.Lock()
	out := make([]Member, 0, len(t.members))
	for _, m := range t.members {
		out = append(out, m)
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// reap drops dead or left members whose status is older than ttl, and leave
// intents heard longer than ttl ago.
func (t *memberTable) reap(now time.Time, ttl time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, m := range t.members {
		if (m.Status == StatusDead || m.Status == StatusLeft) && now.Sub(m.Since) > ttl {
			delete(t.members, id)
		}
	}
	for li, at := range t.intents {
		if now.Sub(at) > ttl {
			delete(t.intents, li)
		}
	}
}

// broker fans events out to subscribers; each subscriber has an unbounded queue so
// memberlist's callbacks never block.
type broker struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	mu    sync.Mutex
	queue []Event
	wake  chan struct{}
	out   chan Event
	done  chan struct{}
	stop  sync.Once
}

func (s *subscriber) close() { s.stop.Do(func() { close(s.done) }) }

func (b *broker) publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		s.mu.Lock()
		s.queue = append(s.queue, e)
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (b *broker) subscribe() (<-chan Event, func()) {
	s := &subscriber{wake: make(chan struct{}, 1), out: make(chan Event), done: make(chan struct{})}
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[*subscriber]struct{}{}
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go s.run()
	return s.out, func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
		s.close()
	}
}

func (s *subscriber) run() {
	defer close(s.out)
	for {
		s.mu.Lock()
		q := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, e := range q {
			select {
			case s.out <- e:
			case <-s.done:
				return
			}
		}
		select {
		case <-s.wake:
		case <-s.done:
			return
		}
	}
}

// closeAll ends every subscription (their channels close).
func (b *broker) closeAll() {
	b.mu.Lock()
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()
	for s := range subs {
		s.close()
	}
}

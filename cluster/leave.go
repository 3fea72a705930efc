package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/memberlist"
)

// A graceful leave must reach every live member as "left", never "dead", or the
// scheduler and the UI report a crash that did not happen. memberlist alone cannot
// promise that: its leave is one dead message, retransmitted a few times to random
// members (some of them dead), and each relay drops it from its queue in favour of
// nothing else; and NotifyLeave does not say whether the node left or failed.
//
// So a leaving node also gossips a leave intent of its own, the way Serf does:
//   - the intent rides on our delegate's broadcast queue, which memberlist's dead
//     message cannot invalidate, and every member that learns it relays it once;
//   - every push/pull exchange carries the intents a member holds, so a member that
//     missed every packet learns it at its next full-state sync;
//   - an intent turns a member this node already declared dead into left (with an
//     EventLeave), and one that arrives first makes the later NotifyLeave say left.
//
// An intent names the node's Boot, a random number drawn at every start, so an
// intent from an earlier life of a node ID never marks its restarted self.

// leaveIntent says that the node ID, in its life Boot, left gracefully.
type leaveIntent struct {
	ID   string
	Boot uint64
}

const (
	msgLeaveIntent   byte = 1 // user message: one leaveIntent
	stateVersion     byte = 1 // push/pull local state: a list of leaveIntents
	maxIntentsInSync      = 1024
)

var errIntentShort = errors.New("truncated")

func appendIntent(b []byte, li leaveIntent) []byte {
	b = binary.AppendUvarint(b, li.Boot)
	b = binary.AppendUvarint(b, uint64(len(li.ID)))
	return append(b, li.ID...)
}

func readIntent(b []byte) (leaveIntent, []byte, error) {
	var li leaveIntent
	boot, k := binary.Uvarint(b)
	if k <= 0 {
		return li, nil, errIntentShort
	}
	b = b[k:]
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n || n == 0 || n > 256 {
		return li, nil, errIntentShort
	}
	li.Boot, li.ID = boot, string(b[k:k+int(n)])
	return li, b[k+int(n):], nil
}

// encodeIntentMsg encodes a user message carrying one intent.
func encodeIntentMsg(li leaveIntent) []byte {
	return appendIntent([]byte{msgLeaveIntent}, li)
}

// decodeIntentMsg is the inverse of encodeIntentMsg.
func decodeIntentMsg(b []byte) (leaveIntent, error) {
	if len(b) == 0 || b[0] != msgLeaveIntent {
		return leaveIntent{}, fmt.Errorf("decode gossip message: unknown type")
	}
	li, rest, err := readIntent(b[1:])
	if err == nil && len(rest) != 0 {
		err = errors.New("trailing bytes")
	}
	if err != nil {
		return leaveIntent{}, fmt.Errorf("decode leave intent: %w", err)
	}
	return li, nil
}

// encodeState encodes the push/pull local state: a version byte, a count, intents.
func encodeState(lis []leaveIntent) []byte {
	if len(lis) > maxIntentsInSync {
		lis = lis[:maxIntentsInSync]
	}
	b := binary.AppendUvarint([]byte{stateVersion}, uint64(len(lis)))
	for _, li := range lis {
		b = appendIntent(b, li)
	}
	return b
}

// decodeState is the inverse of encodeState.
func decodeState(b []byte) ([]leaveIntent, error) {
	if len(b) == 0 || b[0] != stateVersion {
		return nil, fmt.Errorf("decode gossip state: unknown version")
	}
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || n > maxIntentsInSync {
		return nil, fmt.Errorf("decode gossip state: bad count")
	}
	b = b[1+k:]
	out := make([]leaveIntent, 0, n)
	for range n {
		li, rest, err := readIntent(b)
		if err != nil {
			return nil, fmt.Errorf("decode gossip state: %w", err)
		}
		out = append(out, li)
		b = rest
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("decode gossip state: trailing bytes")
	}
	return out, nil
}

// intentBroadcast is one intent in the delegate's broadcast queue.
type intentBroadcast struct {
	li     leaveIntent
	msg    []byte
	notify chan struct{} // closed when transmitted enough times or replaced; may be nil
}

func (b *intentBroadcast) Invalidates(o memberlist.Broadcast) bool {
	ob, ok := o.(*intentBroadcast)
	return ok && ob.li == b.li
}
func (b *intentBroadcast) Message() []byte { return b.msg }
func (b *intentBroadcast) Finished() {
	if b.notify != nil {
		close(b.notify)
	}
}

// learnIntent records an intent heard from a peer, relays it if it is new, and
// moves the member's status: a dead member of that life becomes left.
func (c *Cluster) learnIntent(li leaveIntent) {
	if li.ID == c.cfg.NodeID {
		return // about us: a past life's, or our own echoed back
	}
	c.obsMu.Lock()
	ev, fresh := c.members.leaveIntent(li, time.Now())
	if ev != nil {
		c.events.publish(*ev)
	}
	c.obsMu.Unlock()
	if !fresh {
		return
	}
	c.bcast.QueueBroadcast(&intentBroadcast{li: li, msg: encodeIntentMsg(li)})
	if ev != nil {
		c.log.Info("member declared dead had left", "member", li.ID)
		c.nudge()
	}
}

// announceLeave queues our own intent and waits until it has been sent as often as
// memberlist sends any broadcast, or timeout; with no live peer it returns at once.
func (c *Cluster) announceLeave(timeout time.Duration) {
	li := leaveIntent{ID: c.cfg.NodeID, Boot: c.boot}
	c.ownIntent.Store(true)
	if !c.members.anyAliveBut(c.cfg.NodeID) {
		return
	}
	done := make(chan struct{})
	c.bcast.QueueBroadcast(&intentBroadcast{li: li, msg: encodeIntentMsg(li), notify: done})
	select {
	case <-done:
	case <-time.After(timeout):
		c.log.Warn("leave intent not fully sent before the timeout", "timeout", timeout)
	}
}

// localState is what this node sends in a push/pull: every intent it holds, and its
// own once it is leaving.
func (c *Cluster) localState() []byte {
	lis := c.members.intentList()
	if c.ownIntent.Load() {
		lis = append([]leaveIntent{{ID: c.cfg.NodeID, Boot: c.boot}}, lis...)
	}
	return encodeState(lis)
}

func (c *Cluster) mergeState(buf []byte) {
	if len(buf) == 0 {
		return // a peer with nothing to say
	}
	lis, err := decodeState(buf)
	if err != nil {
		c.log.Warn("ignoring undecodable gossip state", "err", err)
		return
	}
	for _, li := range lis {
		c.learnIntent(li)
	}
}

// leaveIntent records li (reporting whether it was new) and applies it to the
// member of that life: dead becomes left, and an alive one is marked leaving.
func (t *memberTable) leaveIntent(li leaveIntent, now time.Time) (ev *Event, fresh bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.intents[li]; ok {
		return nil, false
	}
	if len(t.intents) >= maxIntentsInSync {
		return nil, false // a flood, not a cluster; tombstones reap the real ones
	}
	t.intents[li] = now
	m, ok := t.members[li.ID]
	if !ok || m.Meta.Boot != li.Boot {
		return nil, true
	}
	switch {
	case m.Status == StatusDead:
		m.Status, m.Since, m.Meta.Leaving = StatusLeft, now, true
		t.members[li.ID] = m
		return &Event{Type: EventLeave, Member: m}, true
	case m.Status == StatusAlive && !m.Meta.Leaving:
		m.Meta.Leaving = true
		t.members[li.ID] = m
		return &Event{Type: EventUpdate, Member: m}, true
	}
	return nil, true
}

// hasIntent reports whether the node id left in its life boot.
func (t *memberTable) hasIntent(id string, boot uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.intents[leaveIntent{ID: id, Boot: boot}]
	return ok
}

func (t *memberTable) intentList() []leaveIntent {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Collect(maps.Keys(t.intents))
}

func (t *memberTable) anyAliveBut(self string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, m := range t.members {
		if id != self && m.Status == StatusAlive {
			return true
		}
	}
	return false
}

// numAlive counts live members (at least 1: this node) for the broadcast queue's
// retransmit limit.
func (t *memberTable) numAlive() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, m := range t.members {
		if m.Status == StatusAlive {
			n++
		}
	}
	return max(n, 1)
}

package cluster

import (
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func mlNode(t *testing.T, id string, boot uint64, leaving bool) *memberlist.Node {
	t.Helper()
	b, err := EncodeMeta(Meta{ID: id, Name: id, Role: RoleClient, Boot: boot, Leaving: leaving})
	if err != nil {
		t.Fatal(err)
	}
	return &memberlist.Node{Name: id, Addr: net.IPv4(127, 0, 0, 9), Port: 7946, Meta: b}
}

// nextEvent returns the next event, failing if none comes soon.
func nextEvent(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
		return Event{}
	}
}

func noEvent(t *testing.T, ch <-chan Event) {
	t.Helper()
	select {
	case e := <-ch:
		t.Fatalf("unexpected event %s of %s (%s)", e.Type, e.Member.ID, e.Member.Status)
	case <-time.After(50 * time.Millisecond):
	}
}

func testNode(t *testing.T) (*Cluster, <-chan Event) {
	c := newCluster(Config{NodeID: "node-self"})
	t.Cleanup(c.cancel)
	ch, unsub := c.Subscribe()
	t.Cleanup(unsub)
	return c, ch
}

func wantStatus(t *testing.T, c *Cluster, id string, st Status, leaving bool) {
	t.Helper()
	m, ok := c.Member(id)
	if !ok || m.Status != st || m.Meta.Leaving != leaving {
		t.Fatalf("member %s = %+v (known %v); want %s, leaving %v", id, m, ok, st, leaving)
	}
}

// The failure this guards against: a member hears the leaving node's dead message
// (or declares it dead itself) without ever having seen its Leaving meta. The
// intent that arrives afterwards, by gossip or push/pull, turns dead into left.
func TestLeaveIntentAfterDeath(t *testing.T) {
	c, ev := testNode(t)
	events := &events{c}
	events.NotifyJoin(mlNode(t, "node-a", 7, false))
	if e := nextEvent(t, ev); e.Type != EventJoin {
		t.Fatalf("event %s, want join", e.Type)
	}
	events.NotifyLeave(mlNode(t, "node-a", 7, false))
	if e := nextEvent(t, ev); e.Type != EventFail {
		t.Fatalf("event %s, want fail", e.Type)
	}
	wantStatus(t, c, "node-a", StatusDead, false)

	// An intent of another life of node-a changes nothing here, but is relayed.
	c.learnIntent(leaveIntent{ID: "node-a", Boot: 8})
	noEvent(t, ev)
	wantStatus(t, c, "node-a", StatusDead, false)

	c.learnIntent(leaveIntent{ID: "node-a", Boot: 7})
	e := nextEvent(t, ev)
	if e.Type != EventLeave || e.Member.Status != StatusLeft || e.Member.ID != "node-a" {
		t.Fatalf("event %+v, want leave of node-a", e)
	}
	wantStatus(t, c, "node-a", StatusLeft, true)

	// Heard again (another relay, the next push/pull): nothing new, not relayed again.
	c.learnIntent(leaveIntent{ID: "node-a", Boot: 7})
	noEvent(t, ev)
	if n := c.bcast.NumQueued(); n != 2 {
		t.Fatalf("%d intents queued for relay, want 2", n)
	}
	msgs := c.bcast.GetBroadcasts(0, 1<<16)
	var got []leaveIntent
	for _, m := range msgs {
		li, err := decodeIntentMsg(m)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, li)
	}
	if len(got) != 2 || got[0].ID != "node-a" || got[1].ID != "node-a" || got[0].Boot+got[1].Boot != 15 {
		t.Fatalf("relayed %+v", got)
	}
}

// An intent that outruns the leave: the member is marked leaving (the scheduler
// skips it) and the dead message that follows reads as left.
func TestLeaveIntentBeforeDeath(t *testing.T) {
	c, ev := testNode(t)
	events := &events{c}
	events.NotifyJoin(mlNode(t, "node-b", 3, false))
	nextEvent(t, ev)
	c.learnIntent(leaveIntent{ID: "node-b", Boot: 3})
	if e := nextEvent(t, ev); e.Type != EventUpdate || !e.Member.Meta.Leaving {
		t.Fatalf("event %+v, want update with Leaving", e)
	}
	// A meta update without the flag (sent before it left) keeps it leaving.
	events.NotifyUpdate(mlNode(t, "node-b", 3, false))
	wantStatus(t, c, "node-b", StatusAlive, true)
	events.NotifyLeave(mlNode(t, "node-b", 3, false))
	if e := nextEvent(t, ev); e.Type != EventLeave {
		t.Fatalf("event %s, want leave", e.Type)
	}
	wantStatus(t, c, "node-b", StatusLeft, true)
}

// An intent heard before the member itself (a late joiner's first push/pull) still
// applies to that life, and never to the node's next life.
func TestLeaveIntentLives(t *testing.T) {
	c, ev := testNode(t)
	events := &events{c}
	c.learnIntent(leaveIntent{ID: "node-c", Boot: 1})
	noEvent(t, ev)
	events.NotifyJoin(mlNode(t, "node-c", 1, false))
	wantStatus(t, c, "node-c", StatusAlive, true)
	events.NotifyLeave(mlNode(t, "node-c", 1, false))
	wantStatus(t, c, "node-c", StatusLeft, true)

	// Restarted with a new boot: alive, not leaving; a crash now is a failure.
	events.NotifyJoin(mlNode(t, "node-c", 2, false))
	wantStatus(t, c, "node-c", StatusAlive, false)
	events.NotifyLeave(mlNode(t, "node-c", 2, false))
	wantStatus(t, c, "node-c", StatusDead, false)

	// Our own intent echoed back by a peer is ignored; so is a past life's.
	c.learnIntent(leaveIntent{ID: "node-self", Boot: 5})
	if c.members.hasIntent("node-self", 5) {
		t.Fatal("recorded an intent about this node")
	}

	// Intents expire with tombstones.
	c.members.reap(time.Now().Add(time.Hour), time.Minute)
	if len(c.members.intentList()) != 0 {
		t.Fatalf("intents not reaped: %v", c.members.intentList())
	}
}

// Push/pull carries every intent a node holds, and its own once it leaves.
func TestLeaveIntentPushPull(t *testing.T) {
	a, _ := testNode(t)
	a.learnIntent(leaveIntent{ID: "node-x", Boot: 11})
	a.ownIntent.Store(true)
	b := newCluster(Config{NodeID: "node-b"})
	t.Cleanup(b.cancel)
	b.mergeState(a.localState())
	if !b.members.hasIntent("node-x", 11) || !b.members.hasIntent("node-self", a.boot) {
		t.Fatalf("merged intents %v, want node-x/11 and node-self/%d", b.members.intentList(), a.boot)
	}
	b.mergeState(nil)                     // a peer with nothing to say
	b.mergeState([]byte{stateVersion, 5}) // truncated: ignored, nothing learned
	if n := len(b.members.intentList()); n != 2 {
		t.Fatalf("%d intents after bad state, want 2", n)
	}
}

func TestLeaveIntentCodec(t *testing.T) {
	lis := []leaveIntent{{ID: "node-1", Boot: 0}, {ID: "node-2", Boot: 1<<64 - 1}}
	got, err := decodeState(encodeState(lis))
	if err != nil || !reflect.DeepEqual(got, lis) {
		t.Fatalf("state round trip = %v, %v", got, err)
	}
	if got, err := decodeState(encodeState(nil)); err != nil || len(got) != 0 {
		t.Fatalf("empty state round trip = %v, %v", got, err)
	}
	li := leaveIntent{ID: "node-3", Boot: 42}
	if got, err := decodeIntentMsg(encodeIntentMsg(li)); err != nil || got != li {
		t.Fatalf("message round trip = %v, %v", got, err)
	}
	msg := encodeIntentMsg(li)
	state := encodeState(lis)
	for name, b := range map[string][]byte{
		"empty":          nil,
		"unknown type":   append([]byte{9}, msg[1:]...),
		"truncated":      msg[:len(msg)-1],
		"trailing":       append(append([]byte{}, msg...), 0),
		"empty id":       {msgLeaveIntent, 1, 0},
		"huge id length": {msgLeaveIntent, 1, 0xff, 0xff, 0x03},
		"long id":        encodeIntentMsg(leaveIntent{ID: strings.Repeat("x", 300)}),
	} {
		if _, err := decodeIntentMsg(b); err == nil {
			t.Errorf("message %s: decoded", name)
		}
	}
	for name, b := range map[string][]byte{
		"empty":       nil,
		"version":     append([]byte{9}, state[1:]...),
		"truncated":   state[:len(state)-1],
		"trailing":    append(append([]byte{}, state...), 0),
		"huge count":  {stateVersion, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"short count": {stateVersion, 3, 0, 1, 'a'},
	} {
		if _, err := decodeState(b); err == nil {
			t.Errorf("state %s: decoded", name)
		}
	}
}

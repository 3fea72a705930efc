package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"
)

func apply(t *testing.T, f *FSM, idx uint64, c Command) any {
	t.Helper()
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return f.Apply(&raft.Log{Index: idx, Data: data})
}

func TestFSM(t *testing.T) {
	f := NewFSM()
	cmds := []Command{
		{Op: OpNewEpoch, Term: 2, Leader: "node-a"},
		{Op: OpSetDrain, NodeID: "node-b", Drain: true},
		{Op: OpSetDrain, NodeID: "node-c", Drain: true},
		{Op: OpSetDrain, NodeID: "node-b", Drain: false},
		{Op: OpNewEpoch, Term: 5, Leader: "node-c"},
	}
	for i, c := range cmds {
		if r := apply(t, f, uint64(i+1), c); r != nil {
			t.Fatalf("apply %+v: %v", c, r)
		}
	}
	want := State{Epoch: 5, EpochLeader: "node-c", Draining: []string{"node-c"}, Index: 5}
	if got := f.State(); !reflect.DeepEqual(got, want) {
		t.Fatalf("state = %+v, want %+v", got, want)
	}
	// Rejections are deterministic and leave the state alone.
	for _, c := range []Command{
		{Op: OpNewEpoch, Term: 5, Leader: "node-old"},
		{Op: OpNewEpoch, Term: 3, Leader: "node-old"},
		{Op: OpSetDrain},
		{Op: "bogus"},
	} {
		r := apply(t, f, 6, c)
		err, ok := r.(error)
		if !ok {
			t.Fatalf("apply %+v accepted", c)
		}
		if c.Op == OpNewEpoch && !errors.Is(err, ErrStaleEpoch) {
			t.Fatalf("apply %+v = %v, want ErrStaleEpoch", c, err)
		}
	}
	if r := f.Apply(&raft.Log{Index: 7, Data: []byte("{")}); r == nil {
		t.Fatal("garbage command accepted")
	}

	// Snapshot and restore reproduce the state exactly.
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	g := NewFSM()
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.State(), f.State()) {
		t.Fatalf("restored %+v, want %+v", g.State(), f.State())
	}
}

type memSink struct{ bytes.Buffer }

func (*memSink) ID() string    { return "mem" }
func (*memSink) Cancel() error { return nil }
func (*memSink) Close() error  { return nil }

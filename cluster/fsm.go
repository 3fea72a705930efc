package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/hashicorp/raft"
)

// ErrStaleEpoch is returned by the FSM when a leader tries to record a fencing epoch
// lower than or equal to the one already recorded.
var ErrStaleEpoch = errors.New("stale fencing epoch")

// Op names an FSM command.
type Op string

// The FSM commands.
const (
	// OpSetDrain marks NodeID as draining (Drain=true) or clears the mark.
	OpSetDrain Op = "set_drain"
	// OpNewEpoch records that Leader established leadership in Term. Issued by the
	// cluster itself on every leadership gain; Term must exceed the recorded epoch.
	OpNewEpoch Op = "new_epoch"
)

// Command is one replicated FSM command (JSON in the raft log).
type Command struct {
	Op     Op     `json:"op"`
	NodeID string `json:"node_id,omitempty"` // OpSetDrain
	Drain  bool   `json:"drain,omitempty"`   // OpSetDrain
	Term   uint64 `json:"term,omitempty"`    // OpNewEpoch
	Leader string `json:"leader,omitempty"`  // OpNewEpoch
}

// State is everything the FSM holds.
type State struct {
	// Epoch is the highest raft term in which a leader established leadership, and
	// EpochLeader is that leader's node ID. It only grows.
	Epoch       uint64 `json:"epoch"`
	EpochLeader string `json:"epoch_leader,omitempty"`
	// Draining lists the node IDs marked as draining, sorted. The scheduler places
	// nothing on them.
	Draining []string `json:"draining"`
	// Index is the raft index of the last applied entry.
	Index uint64 `json:"index"`
}

// FSM is the raft state machine. Apply is deterministic: it depends only on the log.
type FSM struct {
	mu       sync.RWMutex
	epoch    uint64
	leader   string
	draining map[string]bool
	index    uint64
}

var _ raft.FSM = (*FSM)(nil)

// NewFSM returns an empty FSM.
func NewFSM() *FSM { return &FSM{draining: map[string]bool{}} }

// Apply applies one log entry; it returns nil or an error (raft's ApplyFuture.Response).
func (f *FSM) Apply(l *raft.Log) any {
	var c Command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return fmt.Errorf("%w: decode command at index %d: %v", ErrInvalid, l.Index, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index = l.Index
	switch c.Op {
	case OpSetDrain:
		if c.NodeID == "" {
			return fmt.Errorf("%w: %s: node_id is empty", ErrInvalid, c.Op)
		}
		if c.Drain {
			f.draining[c.NodeID] = true
		} else {
			delete(f.draining, c.NodeID)
		}
	case OpNewEpoch:
		if c.Term <= f.epoch {
			return fmt.Errorf("%w: term %d from %s, epoch is %d", ErrStaleEpoch, c.Term, c.Leader, f.epoch)
		}
		f.epoch, f.leader = c.Term, c.Leader
	default:
		return fmt.Errorf("%w: unknown op %q", ErrInvalid, c.Op)
	}
	return nil
}

// State returns a copy of the current state.
func (f *FSM) State() State {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := State{Epoch: f.epoch, EpochLeader: f.leader, Index: f.index, Draining: make([]string, 0, len(f.draining))}
	for id := range f.draining {
		s.Draining = append(s.Draining, id)
	}
	sort.Strings(s.Draining)
	return s
}

// Snapshot captures the state for raft log compaction.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) { return fsmSnapshot(f.State()), nil }

// Restore replaces the state with a snapshot.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var s State
	if err := json.NewDecoder(rc).Decode(&s); err != nil {
		return fmt.Errorf("restore fsm snapshot: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.epoch, f.leader, f.index = s.Epoch, s.EpochLeader, s.Index
	f.draining = make(map[string]bool, len(s.Draining))
	for _, id := range s.Draining {
		f.draining[id] = true
	}
	return nil
}

type fsmSnapshot State

func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(State(s)); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist fsm snapshot: %w", err)
	}
	return sink.Close()
}

func (fsmSnapshot) Release() {}

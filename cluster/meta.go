package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MetaMaxSize is memberlist's limit on node meta; EncodeMeta never exceeds it for a
// Config that passed Validate.
const MetaMaxSize = 512

// Role is a node's role in the cluster.
type Role string

// The roles.
const (
	RoleServer Role = "server" // runs raft, may lead
	RoleClient Role = "client" // gossip only
)

// Capacity is what a node can still take, as gossiped in its meta.
type Capacity struct {
	FreeMilliCPU     uint64 // free vCPU in thousandths of a core
	FreeMemoryMB     uint64
	FreeDiskBytes    uint64
	RunningSandboxes uint32
	MaxSandboxes     uint32
	FreeBuildSlots   uint32 // build workers not running a build
}

// Meta is what a node gossips about itself. The gossip address is the member's own
// address (Member.GossipAddr) and is not repeated here.
type Meta struct {
	ID       string // "node-<uuid>"
	Name     string
	Role     Role
	RaftAddr string // servers only
	HTTPAddr string
	GRPCAddr string
	Version  string
	Capacity Capacity
	Drain    bool   // the node asks not to receive new placements
	Leaving  bool   // the node is leaving gracefully (set just before Close leaves)
	Boot     uint64 // random, drawn at each start: tells a restarted node from its past life

	// Servers only.
	BootstrapExpect int    // the server's --bootstrap-expect
	RaftMember      bool   // the server belongs to a raft configuration (bootstrapped or added)
	LeaderID        string // the leader this server knows, "" if none
	Term            uint64 // this server's current raft term
}

const metaVersion = 1

const (
	flagServer = 1 << iota
	flagDrain
	flagRaftMember
	flagLeaving
)

var errMetaShort = errors.New("truncated")

// EncodeMeta encodes m compactly: a version byte, a flags byte, then length-prefixed
// strings and uvarints. It fails if the result exceeds MetaMaxSize.
func EncodeMeta(m Meta) ([]byte, error) {
	b := make([]byte, 0, 256)
	var flags byte
	if m.Role == RoleServer {
		flags |= flagServer
	}
	if m.Drain {
		flags |= flagDrain
	}
	if m.RaftMember {
		flags |= flagRaftMember
	}
	if m.Leaving {
		flags |= flagLeaving
	}
	b = append(b, metaVersion, flags)
	for _, s := range []string{m.ID, m.Name, m.RaftAddr, m.HTTPAddr, m.GRPCAddr, m.Version, m.LeaderID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, u := range []uint64{m.Capacity.FreeMilliCPU, m.Capacity.FreeMemoryMB, m.Capacity.FreeDiskBytes,
		uint64(m.Capacity.RunningSandboxes), uint64(m.Capacity.MaxSandboxes), uint64(m.BootstrapExpect), m.Term,
		uint64(m.Capacity.FreeBuildSlots), m.Boot} {
		b = binary.AppendUvarint(b, u)
	}
	if len(b) > MetaMaxSize {
		return nil, fmt.Errorf("%w: meta of node %s is %d bytes, limit %d", ErrInvalid, m.ID, len(b), MetaMaxSize)
	}
	return b, nil
}

// DecodeMeta is the inverse of EncodeMeta.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) < 2 {
		return m, fmt.Errorf("decode meta: %w", errMetaShort)
	}
	if b[0] != metaVersion {
		return m, fmt.Errorf("decode meta: unknown version %d", b[0])
	}
	flags := b[1]
	b = b[2:]
	m.Role = RoleClient
	if flags&flagServer != 0 {
		m.Role = RoleServer
	}
	m.Drain = flags&flagDrain != 0
	m.RaftMember = flags&flagRaftMember != 0
	m.Leaving = flags&flagLeaving != 0
	for _, s := range []*string{&m.ID, &m.Name, &m.RaftAddr, &m.HTTPAddr, &m.GRPCAddr, &m.Version, &m.LeaderID} {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return m, fmt.Errorf("decode meta: %w", errMetaShort)
		}
		*s = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	var u [9]uint64 // the ninth, Boot, is absent in meta from nodes that predate it
	for i := range u {
		if i == 8 && len(b) == 0 {
			break
		}
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return m, fmt.Errorf("decode meta: %w", errMetaShort)
		}
		u[i] = v
		b = b[k:]
	}
	m.Capacity = Capacity{FreeMilliCPU: u[0], FreeMemoryMB: u[1], FreeDiskBytes: u[2],
		RunningSandboxes: uint32(u[3]), MaxSandboxes: uint32(u[4]), FreeBuildSlots: uint32(u[7])}
	m.BootstrapExpect = int(u[5])
	m.Term = u[6]
	m.Boot = u[8]
	return m, nil
}

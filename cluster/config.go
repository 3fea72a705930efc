package cluster

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/warrenhq/warren/id"
)

// ErrInvalid is wrapped by every configuration and argument error.
var ErrInvalid = errors.New("invalid argument")

// KeySize is the length of the cluster key in bytes (AES-256).
const KeySize = 32

// Length limits that keep the encoded Meta within memberlist's 512-byte limit.
const (
	maxNameLen    = 64
	maxAddrLen    = 64
	maxVersionLen = 32
)

// Config configures one node. Build it from DefaultConfig and check it with Validate
// (Open validates too). The gossip defaults are memberlist's LAN profile with a
// shorter suspicion (SuspicionMult 3, max timeout ×2): a dead node is declared dead
// in ~4–8 s in a small cluster (suspicion scales with log10 of the size). The raft
// defaults (1 s heartbeat/election, 500 ms lease) give a loopback failover of
// ~1–3 s.
type Config struct {
	NodeID  string // "node-<uuid>", persisted by the caller; memberlist name and raft ID
	Name    string // human name (e.g. host name), ≤ 64 bytes
	DataDir string // raft state lives in DataDir/raft (servers only)

	GossipAddr      string // bind address for gossip, host:port (UDP and TCP); port 0 picks one
	AdvertiseGossip string // address peers use to reach us; defaults to GossipAddr
	RaftAddr        string // bind address for raft (servers), host:port; port 0 picks one
	AdvertiseRaft   string // address peers use for raft; defaults to RaftAddr

	Server          bool     // run raft and take part in leader election
	BootstrapExpect int      // servers: bootstrap once this many servers are seen (0: join only)
	Join            []string // gossip addresses of existing members

	ClusterKey []byte // 32-byte gossip encryption key; a node without it cannot join

	HTTPAddr string          // advertised REST address, gossiped in Meta
	GRPCAddr string          // advertised gRPC address, gossiped in Meta
	Version  string          // software version, ≤ 32 bytes
	Capacity func() Capacity // polled every MetaRefreshInterval; nil reports zero capacity
	Logger   *slog.Logger    // nil discards

	ProbeInterval  time.Duration // memberlist failure-detector probe interval
	ProbeTimeout   time.Duration // memberlist probe ack timeout
	SuspicionMult  int           // memberlist suspicion multiplier
	GossipInterval time.Duration // memberlist gossip interval
	// PushPullInterval is memberlist's full-state sync period with one random
	// member; memberlist stretches it by a log factor above 32 members (×3 at 100).
	// Epidemic gossip reaches almost everyone within a second, but a burst of joins
	// leaves a few members missing a few peers until a sync; a short period bounds
	// that tail (100 members converge in ~2.5 s instead of 7–13 s with 30 s).
	PushPullInterval time.Duration

	MetaRefreshInterval   time.Duration // how often local meta is recomputed (changes broadcast at once)
	MetaBroadcastInterval time.Duration // meta re-broadcast even when unchanged (≤ 5 s)
	ReconnectInterval     time.Duration // how often a failed member is re-joined (heals partitions)
	TombstoneTimeout      time.Duration // how long dead/left members stay in Members()
	DeadServerGrace       time.Duration // leader removes a raft server dead this long
	ReconcileInterval     time.Duration // leader's raft-membership reconcile period
	JoinTimeout           time.Duration // Open retries Join this long before failing

	RaftHeartbeatTimeout   time.Duration
	RaftElectionTimeout    time.Duration
	RaftLeaderLeaseTimeout time.Duration
}

// DefaultConfig returns a configuration with the tuned defaults and a fresh node ID.
// The caller still sets DataDir, addresses, ClusterKey and the role.
func DefaultConfig() Config {
	return Config{
		NodeID:                 id.NewNodeID().String(),
		GossipAddr:             "0.0.0.0:7946",
		RaftAddr:               "0.0.0.0:7947",
		ProbeInterval:          time.Second,
		ProbeTimeout:           500 * time.Millisecond,
		SuspicionMult:          3,
		GossipInterval:         100 * time.Millisecond,
		PushPullInterval:       500 * time.Millisecond,
		MetaRefreshInterval:    time.Second,
		MetaBroadcastInterval:  5 * time.Second,
		ReconnectInterval:      2 * time.Second,
		TombstoneTimeout:       24 * time.Hour,
		DeadServerGrace:        30 * time.Second,
		ReconcileInterval:      time.Second,
		JoinTimeout:            10 * time.Second,
		RaftHeartbeatTimeout:   time.Second,
		RaftElectionTimeout:    time.Second,
		RaftLeaderLeaseTimeout: 500 * time.Millisecond,
	}
}

// Validate checks the configuration; errors wrap ErrInvalid and name the flag.
func (c *Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	if _, err := id.ParseNodeID(c.NodeID); err != nil {
		return bad("node id %q: %v", c.NodeID, err)
	}
	if len(c.Name) > maxNameLen {
		return bad("node name %q: longer than %d bytes", c.Name, maxNameLen)
	}
	if len(c.ClusterKey) != KeySize {
		return bad("--cluster-key: must be %d bytes (base64 from `warren node keygen`), got %d", KeySize, len(c.ClusterKey))
	}
	if err := checkHostPort("--gossip-addr", c.GossipAddr, false); err != nil {
		return err
	}
	if err := checkHostPort("--advertise (gossip)", c.AdvertiseGossip, true); err != nil {
		return err
	}
	if c.BootstrapExpect < 0 {
		return bad("--bootstrap-expect: %d is negative", c.BootstrapExpect)
	}
	if c.Server {
		if c.DataDir == "" {
			return bad("data dir: required for a server (raft state)")
		}
		if err := checkHostPort("--raft-addr", c.RaftAddr, false); err != nil {
			return err
		}
		if err := checkHostPort("--advertise (raft)", c.AdvertiseRaft, true); err != nil {
			return err
		}
		if c.AdvertiseRaft == "" && unspecifiedHost(c.RaftAddr) {
			return bad("--raft-addr %q binds all interfaces: set --advertise", c.RaftAddr)
		}
	} else if c.BootstrapExpect > 0 {
		return bad("--bootstrap-expect: only valid with --server")
	}
	for _, j := range c.Join {
		if err := checkHostPort("--join", j, false); err != nil {
			return err
		}
	}
	for flag, v := range map[string]string{"--http-addr": c.HTTPAddr, "--grpc-addr": c.GRPCAddr} {
		if len(v) > maxAddrLen {
			return bad("%s %q: longer than %d bytes", flag, v, maxAddrLen)
		}
	}
	if len(c.Version) > maxVersionLen {
		return bad("version %q: longer than %d bytes", c.Version, maxVersionLen)
	}
	for name, d := range map[string]time.Duration{
		"ProbeInterval": c.ProbeInterval, "ProbeTimeout": c.ProbeTimeout, "GossipInterval": c.GossipInterval, "PushPullInterval": c.PushPullInterval,
		"MetaRefreshInterval": c.MetaRefreshInterval, "MetaBroadcastInterval": c.MetaBroadcastInterval,
		"ReconnectInterval": c.ReconnectInterval, "TombstoneTimeout": c.TombstoneTimeout,
		"DeadServerGrace": c.DeadServerGrace, "ReconcileInterval": c.ReconcileInterval,
		"JoinTimeout": c.JoinTimeout, "RaftHeartbeatTimeout": c.RaftHeartbeatTimeout,
		"RaftElectionTimeout": c.RaftElectionTimeout, "RaftLeaderLeaseTimeout": c.RaftLeaderLeaseTimeout,
	} {
		if d <= 0 {
			return bad("%s: must be positive, got %s", name, d)
		}
	}
	if c.MetaBroadcastInterval > 5*time.Second {
		return bad("MetaBroadcastInterval: at most 5s, got %s", c.MetaBroadcastInterval)
	}
	if c.RaftLeaderLeaseTimeout > c.RaftHeartbeatTimeout {
		return bad("RaftLeaderLeaseTimeout %s exceeds RaftHeartbeatTimeout %s", c.RaftLeaderLeaseTimeout, c.RaftHeartbeatTimeout)
	}
	if c.SuspicionMult < 1 {
		return bad("SuspicionMult: must be ≥ 1, got %d", c.SuspicionMult)
	}
	return nil
}

func checkHostPort(flag, v string, optional bool) error {
	if v == "" && optional {
		return nil
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%w: %s %q: %v", ErrInvalid, flag, v, err)
	}
	if host == "" || port == "" {
		return fmt.Errorf("%w: %s %q: want host:port", ErrInvalid, flag, v)
	}
	if len(v) > maxAddrLen {
		return fmt.Errorf("%w: %s %q: longer than %d bytes", ErrInvalid, flag, v, maxAddrLen)
	}
	return nil
}

func unspecifiedHost(hostport string) bool {
	host, _, _ := net.SplitHostPort(hostport)
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// GenerateKey returns a new random cluster key, base64-encoded (for `warren node keygen`).
func GenerateKey() string {
	b := make([]byte, KeySize)
	rand.Read(b) // never fails (crypto/rand panics instead)
	return base64.StdEncoding.EncodeToString(b)
}

// ParseKey decodes a base64 cluster key and checks its length.
func ParseKey(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%w: --cluster-key: not base64: %v", ErrInvalid, err)
	}
	if len(b) != KeySize {
		return nil, fmt.Errorf("%w: --cluster-key: must decode to %d bytes, got %d", ErrInvalid, KeySize, len(b))
	}
	return b, nil
}

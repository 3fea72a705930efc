package netns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"sync"

	"github.com/vishvananda/netlink"
)

// Sandbox is the network of one sandbox.
type Sandbox struct {
	ID string
	// NetNSPath is the bind-mounted netns file, for the OCI spec's network
	// namespace path.
	NetNSPath string
	// IP is eth0's address inside the netns; Gateway its default route.
	IP      netip.Addr
	Gateway netip.Addr
	// PrefixLen is the subnet's prefix length (eth0 has IP/PrefixLen).
	PrefixLen int
	// HostVeth is the host end of the veth pair, a port of the bridge.
	HostVeth      string
	AllowInternet bool
	// Egress are the sandbox's own outbound rules (nil: the node's only).
	Egress *EgressRules
}

// Options are per-sandbox settings.
type Options struct {
	// AllowInternet lets the sandbox open connections through the node
	// (masqueraded), except to denied destinations (see the package doc).
	AllowInternet bool
	// Egress are the sandbox's own outbound rules on top of the node's (see
	// EgressRules); nil for none.
	Egress *EgressRules
}

// Manager owns a node's sandbox networks. See the package documentation.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	brIdx int

	// opMu is held shared by Create and Destroy and exclusively by
	// CleanupStale and Teardown, which rebuild the state.
	opMu  sync.RWMutex
	alloc *allocator

	mu        sync.Mutex
	closed    bool
	sandboxes map[string]Sandbox
	busy      map[string]bool // IDs with a Create or Destroy in flight
}

// New prepares the host: the netns directory, the bridge with the gateway
// address, ip_forward, and the firewall. It is idempotent: a restarting node
// calls it again, then CleanupStale.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "netns", "prefix", cfg.Prefix),
		alloc:     newAllocator(cfg.Subnet),
		sandboxes: map[string]Sandbox{},
		busy:      map[string]bool{},
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("netns: new manager %s: %w", cfg.Prefix, err)
	}
	if err := m.checkSubnetFree(); err != nil {
		return nil, err
	}
	if err := ensureNetNSDir(cfg.NetNSDir); err != nil {
		return nil, err
	}
	br, created, err := m.ensureBridge()
	if err != nil {
		return nil, err
	}
	m.brIdx = br.Attrs().Index
	err = writeSysctl("/proc/sys/net/ipv4/ip_forward", "1")
	if err == nil {
		err = m.installFirewall(ctx) // one nft transaction: nothing applied on failure
	}
	if err != nil {
		if created { // leave nothing this call made behind
			if derr := m.deleteBridge(); derr != nil {
				m.log.Error("rollback of failed New", "err", derr)
			}
		}
		return nil, err
	}
	m.log.Debug("network ready", "bridge", cfg.Bridge, "subnet", cfg.Subnet, "gateway", m.gateway())
	return m, nil
}

// Config returns the effective configuration (defaults applied).
func (m *Manager) Config() Config { return m.cfg }

// Lookup returns the sandbox network of id, created or recovered by this
// Manager.
func (m *Manager) Lookup(id string) (*Sandbox, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sb, ok := m.sandboxes[id]
	if !ok {
		return nil, false
	}
	return &sb, true
}

// List returns the known sandbox networks, sorted by ID.
func (m *Manager) List() []Sandbox {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Sandbox, 0, len(m.sandboxes))
	for _, sb := range m.sandboxes {
		out = append(out, sb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Close releases the Manager. The bridge, the firewall and every sandbox
// network stay in place for the next Manager of the same prefix.
func (m *Manager) Close(ctx context.Context) error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// Teardown removes every sandbox network of this prefix, the firewall tables
// and the bridge, then closes the Manager (tests, operator uninstall).
// ip_forward is left as it is.
func (m *Manager) Teardown(ctx context.Context) error {
	errs := []error{m.CleanupStale(ctx, func(string) bool { return false })}
	m.opMu.Lock()
	defer m.opMu.Unlock()
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	errs = append(errs, m.removeFirewall(ctx), m.deleteBridge())
	return errors.Join(errs...)
}

// begin marks id busy; it fails if the Manager is closed or id is busy.
func (m *Manager) begin(op, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("netns: %s %s: manager %s is closed: %w", op, id, m.cfg.Prefix, ErrUnavailable)
	}
	if m.busy[id] {
		return fmt.Errorf("netns: %s %s: another create or destroy is in progress: %w", op, id, ErrExists)
	}
	m.busy[id] = true
	return nil
}

func (m *Manager) end(id string) {
	m.mu.Lock()
	delete(m.busy, id)
	m.mu.Unlock()
}

// hostLink finds the host veth by name; nil without error when absent.
func hostLink(name string) (netlink.Link, error) {
	l, err := netlink.LinkByName(name)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("netns: find link %s: %w", name, err)
	}
	return l, nil
}

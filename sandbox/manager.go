package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/sandbox/agent"
	"github.com/warrenhq/warren/sandbox/netns"
	"github.com/warrenhq/warren/sandbox/runc"
)

// Pool is what the manager needs of the node's disk pool (blockdev.Pool).
type Pool interface {
	CreateSnapshot(ctx context.Context, name, origin string, sizeBytes int64) (blockdev.Snapshot, error)
	Flatten(ctx context.Context, name, dst string) (blockdev.ImageInfo, error)
	Remove(ctx context.Context, name string) error
	Snapshots(ctx context.Context) ([]blockdev.Snapshot, error)
	CleanupStale(ctx context.Context) error
}

// Config configures a Manager.
type Config struct {
	// Dir holds one directory per sandbox (rootfs mount point, bundle, the
	// root-only ctl dir with the agent's socket) and runc's state. Every parent must be traversable (o+x).
	Dir string
	// Prefix is node-unique ([a-z0-9], ≤ 16): it names the cgroup parent
	// ("/warren-<prefix>") so two nodes on one host never touch each other's.
	Prefix string
	// AgentBinary is the static warren binary bind-mounted as every sandbox's
	// init; default: this executable.
	AgentBinary string
	// IDMap maps sandbox root to an unprivileged host range (default 100000+65536).
	IDMap runc.IDMap
	// Pids is the per-sandbox task limit (default 1024).
	Pids int64
	// AgentTimeout bounds the wait for a new sandbox's agent (default 10 s).
	AgentTimeout time.Duration
	// DestroyTimeout bounds a teardown (default 60 s).
	DestroyTimeout time.Duration
	// EgressDefaultDeny refuses internet-enabled sandboxes every destination
	// their allow list does not name (--egress deny); default: allow.
	EgressDefaultDeny bool
	// EgressResolver is the DNS server ("ip[:port]") that resolves domain
	// names in egress rules; default: the host's first nameserver. Without
	// one, domain rules are refused.
	EgressResolver string
	// Runtime runs every sandbox whose Spec names no runtime: runc.RuntimeRunc
	// (the default) or runc.RuntimeGVisor.
	Runtime runc.Runtime
	// GVisor offers the gVisor runtime (runsc in PATH) beside runc; it is on
	// whenever Runtime is gVisor.
	GVisor bool
	Logger *slog.Logger
}

// Manager runs the sandboxes of one node.
type Manager struct {
	cfg  Config
	pool Pool
	net  *netns.Manager
	runc *runc.Runc
	// gvisor drives runsc; nil when the gVisor runtime is not offered.
	gvisor *runc.Runc
	log    *slog.Logger

	// nameservers are the host's resolvers that sandboxes with internet
	// access use (read once at start).
	nameservers []string
	// resolver keeps egress domain rules current; nil without a nameserver.
	resolver *netns.Resolver

	mu     sync.Mutex
	boxes  map[string]*box
	onExit func(id, reason string) // see SetOnExit
}

// box is one live sandbox's handles.
type box struct {
	mu     sync.Mutex // serializes lifecycle operations on this sandbox
	id     string
	team   string
	dir    string
	rootfs string
	ip     string
	agent  *agent.Client
	rt     *runc.Runc // the runtime running the sandbox's container
	paused bool
	pidfd  *os.File // the container's init, watched (see watch)
	// ended is set when teardown starts: the sandbox is gone for every
	// call, and its init's exit is no loss to report.
	ended bool
}

// New builds a Manager over the node's pool and network.
func New(cfg Config, pool Pool, net *netns.Manager) (*Manager, error) {
	if cfg.Dir == "" || !filepath.IsAbs(cfg.Dir) {
		return nil, fmt.Errorf("%w: sandbox.Config.Dir %q must be an absolute path", ErrInvalid, cfg.Dir)
	}
	if !validPrefix(cfg.Prefix) {
		return nil, fmt.Errorf("%w: sandbox.Config.Prefix %q must be 1-16 of [a-z0-9]", ErrInvalid, cfg.Prefix)
	}
	if cfg.AgentBinary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("sandbox: locating the agent binary: %w", err)
		}
		cfg.AgentBinary = exe
	}
	if cfg.IDMap.Size == 0 {
		cfg.IDMap = runc.IDMap{HostID: 100000, Size: 65536}
	}
	if cfg.AgentTimeout <= 0 {
		cfg.AgentTimeout = 10 * time.Second
	}
	if cfg.DestroyTimeout <= 0 {
		cfg.DestroyTimeout = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o711); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if err := os.Chmod(cfg.Dir, 0o711); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if cfg.Runtime == "" {
		cfg.Runtime = runc.RuntimeRunc
	}
	if _, err := runc.ParseRuntime(string(cfg.Runtime)); err != nil {
		return nil, fmt.Errorf("%w: sandbox.Config.Runtime: %v", ErrInvalid, err)
	}
	if cfg.Runtime == runc.RuntimeGVisor {
		cfg.GVisor = true
	}
	rc, err := runc.New(runc.Config{Root: filepath.Join(cfg.Dir, ".runc"), CgroupParent: cgroupParent(cfg.Prefix), Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, pool: pool, net: net, runc: rc, log: cfg.Logger, boxes: map[string]*box{},
		nameservers: hostNameservers("/etc/resolv.conf")}
	server := cfg.EgressResolver
	if server == "" && len(m.nameservers) > 0 {
		server = m.nameservers[0]
	}
	if server != "" {
		if m.resolver, err = netns.NewResolver(server, net, cfg.Logger); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	if cfg.GVisor {
		// The same cgroup parent: a node's sandboxes are all below it.
		m.gvisor, err = runc.New(runc.Config{Runtime: runc.RuntimeGVisor, Root: filepath.Join(cfg.Dir, ".runsc"),
			CgroupParent: cgroupParent(cfg.Prefix), Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Runtimes lists the runtimes this manager offers, its default first.
func (m *Manager) Runtimes() []runc.Runtime {
	out := []runc.Runtime{m.cfg.Runtime}
	for _, rt := range runc.Runtimes() {
		if rt != m.cfg.Runtime && m.runtime(rt) != nil {
			out = append(out, rt)
		}
	}
	return out
}

// DefaultRuntime is the runtime of a sandbox whose Spec names none.
func (m *Manager) DefaultRuntime() runc.Runtime { return m.cfg.Runtime }

// runtime returns the driver of rt, or nil when this manager does not offer it.
func (m *Manager) runtime(rt runc.Runtime) *runc.Runc {
	switch rt {
	case runc.RuntimeRunc:
		return m.runc
	case runc.RuntimeGVisor:
		return m.gvisor
	}
	return nil
}

// Runtime reports which runtime runs live sandbox id.
func (m *Manager) Runtime(id string) (runc.Runtime, error) {
	b, err := m.get(id)
	if err != nil {
		return "", err
	}
	return b.rt.Runtime(), nil
}

// get returns the live sandbox id.
func (m *Manager) get(id string) (*box, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.boxes[id]
	if b == nil {
		return nil, fmt.Errorf("sandbox %s: %w on this node", id, ErrNotFound)
	}
	return b, nil
}

// Hostname is every sandbox's UTS hostname.
const Hostname = "sandbox"

// SetTeam records that live sandbox id now belongs to team (a warm pool's
// claim hands a pre-started sandbox to the creating team).
func (m *Manager) SetTeam(id, team string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.boxes[id]
	if b == nil {
		return fmt.Errorf("sandbox %s: %w on this node", id, ErrNotFound)
	}
	b.team = team
	return nil
}

// Has reports whether sandbox id is live on this node.
func (m *Manager) Has(id string) bool {
	_, err := m.get(id)
	return err == nil
}

// IDs lists the live sandboxes.
func (m *Manager) IDs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.boxes))
	for id := range m.boxes {
		out = append(out, id)
	}
	return out
}

// Agent returns the agent client of a running sandbox.
func (m *Manager) Agent(id string) (*agent.Client, error) {
	b, err := m.get(id)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return nil, fmt.Errorf("sandbox %s: %w on this node (it ended)", id, ErrNotFound)
	}
	if b.paused {
		return nil, fmt.Errorf("sandbox %s: %w: it is paused", id, ErrConflict)
	}
	return b.agent, nil
}

// IP returns a live sandbox's address, for the ports proxy.
func (m *Manager) IP(id string) (string, error) {
	b, err := m.get(id)
	if err != nil {
		return "", err
	}
	return b.ip, nil
}

// Pause freezes every process of the sandbox (cgroup freezer).
func (m *Manager) Pause(ctx context.Context, id string) error {
	b, err := m.get(id)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return fmt.Errorf("sandbox %s: %w on this node (it ended)", id, ErrNotFound)
	}
	if b.paused {
		return nil
	}
	if err := b.rt.Pause(ctx, id); err != nil {
		return fmt.Errorf("pausing sandbox %s: %w", id, err)
	}
	b.paused = true
	return nil
}

// Resume thaws a paused sandbox.
func (m *Manager) Resume(ctx context.Context, id string) error {
	b, err := m.get(id)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return fmt.Errorf("sandbox %s: %w on this node (it ended)", id, ErrNotFound)
	}
	if !b.paused {
		return nil
	}
	if err := b.rt.Resume(ctx, id); err != nil {
		return fmt.Errorf("resuming sandbox %s: %w", id, err)
	}
	b.paused = false
	return nil
}

// Snapshot copies a sandbox's disk into a new pool image dst. The sandbox is
// paused for the copy and resumed after (if it was running).
func (m *Manager) Snapshot(ctx context.Context, id, dst string) (blockdev.ImageInfo, error) {
	b, err := m.get(id)
	if err != nil {
		return blockdev.ImageInfo{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return blockdev.ImageInfo{}, fmt.Errorf("sandbox %s: %w on this node (it ended)", id, ErrNotFound)
	}
	if !b.paused {
		if err := b.rt.Pause(ctx, id); err != nil {
			return blockdev.ImageInfo{}, fmt.Errorf("pausing sandbox %s for a snapshot: %w", id, err)
		}
		defer func() {
			rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := b.rt.Resume(rctx, id); err != nil {
				m.log.Error("resuming after snapshot", "sandbox", id, "err", err)
			}
		}()
	}
	info, err := m.pool.Flatten(ctx, id, dst)
	if err != nil {
		return info, fmt.Errorf("snapshot of sandbox %s: %w", id, err)
	}
	return info, nil
}

// Close releases agent connections; sandboxes keep running (a restarted node
// removes them with CleanupStale). When no sandbox is left it also removes the
// node's cgroup parent, which runc makes again on the next create.
func (m *Manager) Close() error {
	m.mu.Lock()
	boxes := make([]*box, 0, len(m.boxes))
	for _, b := range m.boxes {
		boxes = append(boxes, b)
	}
	m.onExit = nil // nobody is told of exits any more
	m.mu.Unlock()
	var errs []error
	if m.gvisor != nil {
		// runsc mounts <root>/null-netns for itself and never removes it.
		nn := filepath.Join(m.cfg.Dir, ".runsc", "null-netns")
		if err := unix.Unmount(nn, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", nn, err))
		}
	}
	for _, b := range boxes {
		b.mu.Lock()
		if b.agent != nil {
			errs = append(errs, b.agent.Close())
		}
		if b.pidfd != nil {
			_ = b.pidfd.Close() // ends its watcher
			b.pidfd = nil
		}
		b.mu.Unlock()
	}
	if m.resolver != nil {
		m.resolver.Close() // running sandboxes keep their sets; elements expire
	}
	if len(boxes) == 0 {
		m.removeCgroupParent()
	}
	return errors.Join(errs...)
}

// removeCgroupParent removes the empty /warren-<prefix> directories of every
// cgroup hierarchy. One that is not empty holds a sandbox this manager does
// not know of; CleanupStale handles it at the next start.
func (m *Manager) removeCgroupParent() {
	dirs, err := runc.CgroupDirs(cgroupParent(m.cfg.Prefix))
	if err != nil {
		m.log.Warn("listing the cgroup parent", "err", err)
		return
	}
	for _, d := range dirs {
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
			m.log.Warn("removing the cgroup parent", "dir", d, "err", err)
		}
	}
}

func cgroupParent(prefix string) string { return "/warren-" + prefix }

func validPrefix(p string) bool {
	if len(p) == 0 || len(p) > 16 {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

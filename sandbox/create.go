package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/sandbox/agent"
	"github.com/warrenhq/warren/sandbox/netns"
	"github.com/warrenhq/warren/sandbox/runc"
	"github.com/warrenhq/warren/sandbox/timing"
)

// Spec describes a sandbox to create.
type Spec struct {
	ID            string // wire-form sandbox ID, e.g. "sb-…"
	Team          string // its team's wire-form ID, a label for metrics
	Image         string // the pool image to start from
	VCPUs         float64
	MemoryMB      int64
	DiskSizeMB    int64
	Env           map[string]string
	AllowInternet bool
	// Egress are the sandbox's own outbound rules (see Egress).
	Egress Egress
	// StartCmd, when set, runs in the background after the agent is up; the
	// sandbox is ready only once Healthcheck passes.
	StartCmd    string
	Healthcheck *Healthcheck
	// Runtime runs the sandbox's container; "" is the manager's default
	// (Config.Runtime). One the manager does not offer is ErrInvalid.
	Runtime runc.Runtime
}

// Info describes a created sandbox.
type Info struct {
	ID string
	IP string
}

// The agent's socket: <dir>/<id>/ctl/agent.sock on the host, in a directory
// only host root can enter and that nothing mounts into the sandbox. The node
// binds it and hands the bound fd to the container's init, which listens on
// it (--listen-fd); the path itself is never reachable from inside.
const (
	ctlDir      = "ctl"
	agentSocket = "agent.sock"
	agentFD     = 3 // the first fd runc --preserve-fds hands on
)

// Create starts a sandbox. On any failure everything it made is removed before
// it returns.
func (m *Manager) Create(ctx context.Context, s Spec) (info Info, err error) {
	if err := s.validate(); err != nil {
		return Info{}, err
	}
	if s.Runtime == "" {
		s.Runtime = m.cfg.Runtime
	}
	rt := m.runtime(s.Runtime)
	if rt == nil {
		return Info{}, fmt.Errorf("%w: sandbox %s: runtime %q is not offered on this node (it offers %v)", ErrInvalid, s.ID, s.Runtime, m.Runtimes())
	}
	m.mu.Lock()
	if m.boxes[s.ID] != nil {
		m.mu.Unlock()
		return Info{}, fmt.Errorf("sandbox %s: %w: already exists", s.ID, ErrConflict)
	}
	b := &box{id: s.ID, team: s.Team, dir: filepath.Join(m.cfg.Dir, s.ID), rt: rt}
	b.rootfs = filepath.Join(b.dir, "rootfs")
	b.mu.Lock()
	m.boxes[s.ID] = b
	m.mu.Unlock()
	defer b.mu.Unlock()

	defer func() {
		if err != nil {
			m.log.Warn("sandbox create failed; cleaning up", "sandbox", s.ID, "err", err)
			if derr := m.teardown(b); derr != nil {
				m.log.Error("cleanup after failed create", "sandbox", s.ID, "err", derr)
			}
			m.mu.Lock()
			delete(m.boxes, s.ID)
			m.mu.Unlock()
		}
	}()
	rec := timing.From(ctx)
	end := rec.Start("dirs")
	err = m.prepareDirs(b)
	end()
	if err != nil {
		return Info{}, err
	}
	rules, allowL, denyL, err := m.egressRules(s.AllowInternet, s.Egress)
	if err != nil {
		return Info{}, err
	}
	if rules != nil && m.resolver == nil && len(allowL.Hosts)+len(denyL.Hosts) > 0 {
		return Info{}, Fieldf("allow_out", "domain names need a resolver on the node (none configured)")
	}
	// The network namespace is independent of the disk: make both at once.
	type netResult struct {
		sb  *netns.Sandbox
		err error
	}
	netc := make(chan netResult, 1)
	go func() {
		end := rec.Start("netns")
		sb, err := m.net.Create(ctx, s.ID, netns.Options{AllowInternet: s.AllowInternet, Egress: rules})
		end()
		netc <- netResult{sb, err}
	}()
	diskErr := m.mountDisk(ctx, b, s)
	nr := <-netc
	if nr.err != nil {
		return Info{}, errors.Join(fmt.Errorf("sandbox %s: network: %w", s.ID, nr.err), diskErr)
	}
	b.ip = nr.sb.IP.String()
	if rules != nil {
		m.watchNames(s.ID, allowL, denyL)
	}
	if diskErr != nil {
		return Info{}, diskErr
	}
	if s.AllowInternet {
		if err := writeResolvConf(b.rootfs, m.nameservers, int(m.cfg.IDMap.HostID)); err != nil {
			return Info{}, fmt.Errorf("sandbox %s: resolver config: %w", s.ID, err)
		}
	}
	end = rec.Start("spec")
	ctl := filepath.Join(b.dir, ctlDir)
	so := runc.SpecOptions{
		ID:          s.ID,
		Rootfs:      b.rootfs,
		Hostname:    Hostname,
		Init:        m.cfg.AgentBinary,
		Args:        []string{"agent", "--listen-fd", strconv.Itoa(agentFD)},
		Env:         envList(s.Env),
		NetNSPath:   nr.sb.NetNSPath,
		UIDMap:      m.cfg.IDMap,
		GIDMap:      m.cfg.IDMap,
		VCPUs:       s.VCPUs,
		MemoryBytes: s.MemoryMB << 20,
		Pids:        m.cfg.Pids,
		CgroupsPath: rt.CgroupsPath(s.ID),
		Runtime:     s.Runtime,
	}
	sockPath := filepath.Join(ctl, agentSocket)
	var files []*os.File
	if s.Runtime == runc.RuntimeGVisor {
		// Under gVisor an inherited socket cannot listen: the agent creates
		// its socket in the ctl dir, bound into the sandbox, and runsc
		// (--host-uds=create) makes it a host socket at sockPath.
		so.CtlDir = ctl
		// Sandbox root must create the socket in it; nothing else of the
		// host is below it, and its parent stays host root's (0711).
		if err := os.Chown(ctl, int(m.cfg.IDMap.HostID), int(m.cfg.IDMap.HostID)); err != nil {
			end()
			return Info{}, fmt.Errorf("sandbox %s: the agent's dir: %w", s.ID, err)
		}
		so.Args = []string{"agent", "--socket", runc.CtlPath + "/" + agentSocket}
	}
	spec, err := runc.Spec(so)
	if err != nil {
		end()
		return Info{}, fmt.Errorf("sandbox %s: %w", s.ID, err)
	}
	if s.Runtime == runc.RuntimeRunc {
		sock, err := bindSocket(sockPath)
		if err != nil {
			end()
			return Info{}, fmt.Errorf("sandbox %s: the agent's socket: %w", s.ID, err)
		}
		defer sock.Close() // the init holds its own copy
		files = append(files, sock)
	}
	end()
	end = rec.Start("runc")
	err = rt.Run(ctx, s.ID, filepath.Join(b.dir, "bundle"), spec, files...)
	end()
	if err != nil {
		return Info{}, fmt.Errorf("sandbox %s: starting the container: %w", s.ID, err)
	}
	end = rec.Start("watch")
	pid, err := m.initPid(b)
	if err != nil {
		return Info{}, fmt.Errorf("sandbox %s: %w", s.ID, err)
	}
	err = m.watch(b, pid)
	end()
	if err != nil {
		return Info{}, fmt.Errorf("sandbox %s: %w", s.ID, err)
	}
	end = rec.Start("agent")
	actx, cancel := context.WithTimeout(ctx, m.cfg.AgentTimeout)
	defer cancel()
	// The agent listens as sandbox root: that is the peer every connection
	// must find, the first and any redial.
	peer, err := m.agentPeer(b, pid)
	if err != nil {
		return Info{}, fmt.Errorf("sandbox %s: %w", s.ID, err)
	}
	b.agent, err = agent.DialPeer(actx, sockPath, peer, m.refused(b))
	if err != nil {
		return Info{}, fmt.Errorf("sandbox %s: connecting to the agent: %w", s.ID, err)
	}
	err = b.agent.WaitHealthy(actx)
	end()
	if err != nil {
		return Info{}, fmt.Errorf("sandbox %s: the agent did not become healthy within %s: %w", s.ID, m.cfg.AgentTimeout, err)
	}
	if s.StartCmd != "" {
		defer rec.Start("start_cmd")()
		if _, err := b.agent.Exec(ctx, agent.ExecOptions{Shell: s.StartCmd, Background: true, Tag: "start"}, nil, nil); err != nil {
			return Info{}, fmt.Errorf("sandbox %s: running the start command: %w", s.ID, err)
		}
		if s.Healthcheck != nil {
			if err := s.Healthcheck.Wait(ctx, b.agent); err != nil {
				return Info{}, fmt.Errorf("sandbox %s: %w", s.ID, err)
			}
		}
	}
	return Info{ID: s.ID, IP: b.ip}, nil
}

func (s *Spec) validate() error {
	switch {
	case s.ID == "" || strings.ContainsAny(s.ID, "/.\x00") || len(s.ID) > 64:
		return fmt.Errorf("%w: sandbox id %q", ErrInvalid, s.ID)
	case s.Image == "":
		return fmt.Errorf("%w: sandbox %s: image is required", ErrInvalid, s.ID)
	case s.DiskSizeMB <= 0:
		return fmt.Errorf("%w: sandbox %s: disk_size_mb must be positive", ErrInvalid, s.ID)
	case s.MemoryMB <= 0:
		return fmt.Errorf("%w: sandbox %s: memory_mb must be positive", ErrInvalid, s.ID)
	case s.VCPUs <= 0:
		return fmt.Errorf("%w: sandbox %s: vcpus must be positive", ErrInvalid, s.ID)
	}
	return nil
}

// prepareDirs makes <dir>/<id>/{rootfs,bundle,ctl}. ctl, which holds the
// agent's socket, is host root's alone (0700) and never mounted into the
// sandbox: nothing inside can replace the socket the node dials.
func (m *Manager) prepareDirs(b *box) error {
	for _, d := range []string{b.dir, b.rootfs, filepath.Join(b.dir, "bundle")} {
		if err := os.Mkdir(d, 0o711); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("sandbox %s: %w", b.id, err)
		}
	}
	ctl := filepath.Join(b.dir, ctlDir)
	if err := os.Mkdir(ctl, 0o700); err != nil {
		return fmt.Errorf("sandbox %s: %w", b.id, err)
	}
	return os.Chmod(ctl, 0o700) // whatever the umask
}

// bindSocket makes a unix stream socket bound at path, not listening: the
// agent that inherits it listens itself, so the kernel's peer credentials of
// every connection name the agent.
func bindSocket(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// mountDisk creates the sandbox's disk and mounts it as the rootfs.
func (m *Manager) mountDisk(ctx context.Context, b *box, s Spec) error {
	rec := timing.From(ctx)
	end := rec.Start("disk")
	snap, err := m.pool.CreateSnapshot(ctx, s.ID, s.Image, s.DiskSizeMB<<20)
	end()
	if err != nil {
		return fmt.Errorf("sandbox %s: disk: %w", s.ID, err)
	}
	// noinit_itable: no background zeroing of inode tables, which would give
	// every idle sandbox its own physical copy of them. nosuid and nodev: a
	// set-uid file or a device node the sandbox made on its disk means
	// nothing on the host's mount either (runc's bind of the rootfs keeps
	// both flags, locked in the sandbox's user namespace).
	defer rec.Start("mount")()
	if err := unix.Mount(snap.Device, b.rootfs, "ext4", unix.MS_NOATIME|unix.MS_NOSUID|unix.MS_NODEV, "noinit_itable"); err != nil {
		return fmt.Errorf("sandbox %s: mounting %s: %w", s.ID, snap.Device, err)
	}
	return nil
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// Destroy stops the sandbox and removes everything it holds. It runs on a
// context of its own (bounded by DestroyTimeout), so a cancelled caller cannot
// interrupt it half-way.
func (m *Manager) Destroy(id string) error {
	b, err := m.get(id)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return fmt.Errorf("sandbox %s: %w on this node (it ended)", id, ErrNotFound)
	}
	err = m.teardown(b)
	m.mu.Lock()
	if m.boxes[id] == b {
		delete(m.boxes, id)
	}
	m.mu.Unlock()
	return err
}

// teardown removes a sandbox's container, network, mount, disk and directory,
// tolerating parts that were never made. The caller holds b.mu, so no snapshot
// of b is being copied: a frozen rootfs is one a failed thaw left behind, and
// it is thawed first (see blockdev.ThawMount).
func (m *Manager) teardown(b *box) error {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.DestroyTimeout)
	defer cancel()
	// Ended first: the init's exit this teardown causes is not a loss.
	b.ended = true
	if b.pidfd != nil {
		_ = b.pidfd.Close()
		b.pidfd = nil
	}
	var errs []error
	if err := blockdev.ThawMount(b.rootfs); err != nil {
		errs = append(errs, err)
	}
	if b.agent != nil {
		_ = b.agent.Close()
		b.agent = nil
	}
	if err := b.rt.Delete(ctx, b.id, true); err != nil && !errors.Is(err, runc.ErrNotFound) {
		errs = append(errs, fmt.Errorf("container: %w", err))
	}
	if m.resolver != nil {
		m.resolver.Stop(b.id)
	}
	if err := m.net.Destroy(ctx, b.id); err != nil && !errors.Is(err, netns.ErrNotFound) {
		errs = append(errs, fmt.Errorf("network: %w", err))
	}
	if err := unmount(b.rootfs); err != nil {
		errs = append(errs, err)
	}
	if err := m.pool.Remove(ctx, b.id); err != nil && !isNotFound(err) {
		errs = append(errs, fmt.Errorf("disk: %w", err))
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(b.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("destroying sandbox %s: %w", b.id, errors.Join(errs...))
	}
	return nil
}

// unmount detaches the rootfs if it is mounted, retrying EBUSY briefly.
func unmount(dir string) error {
	for i := 0; ; i++ {
		err := unix.Unmount(dir, 0)
		switch {
		case err == nil, errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EBUSY) && i < 20:
			time.Sleep(time.Duration(10*(i+1)) * time.Millisecond)
		default:
			return fmt.Errorf("unmounting %s: %w", dir, err)
		}
	}
}

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/sandbox/agent"
)

// SetOnExit sets the hook told of every sandbox that ended on its own: its
// agent (the container's init) exited, or its socket answered from another
// process. By the time the hook runs the sandbox is torn down; it is still
// listed (Has, IDs) until the hook returns, so the hook records the end
// before anything that reconciles with the list sees it missing. A
// deliberate Destroy is never reported. The hook must not call the Manager
// on the same sandbox.
func (m *Manager) SetOnExit(f func(id, reason string)) {
	m.mu.Lock()
	m.onExit = f
	m.mu.Unlock()
}

// Reasons given to the OnExit hook (user-facing: they end up in the row).
const (
	reasonPeer   = "the sandbox's agent socket was answered by another process; the sandbox was stopped"
	reasonExited = "the sandbox's agent exited"
)

// initPid reads the host pid of the container's init from the pid file runc
// create wrote, and checks that the process is the container's (its cgroup
// is the sandbox's), so a pid reused after an early exit is never watched.
func (m *Manager) initPid(b *box) (int, error) {
	data, err := os.ReadFile(filepath.Join(b.dir, "bundle", "init.pid"))
	if err != nil {
		return 0, fmt.Errorf("the container's init pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("the container's init pid %q is not a pid", data)
	}
	return pid, nil
}

// watch starts watching the container's init (host pid pid) through a
// pidfd: when it exits, the sandbox is torn down and reported lost. The
// pidfd is opened before the process is checked to be the container's, so
// the check cannot be fooled by a reused pid. The caller holds b.mu.
func (m *Manager) watch(b *box, pid int) error {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("watching the container's init (pid %d): %w", pid, err)
	}
	f := os.NewFile(uintptr(fd), "pidfd-"+b.id)
	cg, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"))
	if err != nil || !strings.Contains(string(cg), m.runc.CgroupsPath(b.id)+"\n") {
		f.Close()
		return fmt.Errorf("the container's init (pid %d) is not in the sandbox's cgroup: %v", pid, err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return fmt.Errorf("watching the container's init: %w", err)
	}
	b.pidfd = f
	go func() {
		// The pidfd turns readable when the process exits; Read parks on
		// the runtime's poller meanwhile. It fails once f is closed (the
		// sandbox was destroyed, or the manager closed).
		err := rc.Read(func(fd uintptr) bool {
			p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			n, _ := unix.Poll(p, 0)
			return n > 0
		})
		if err != nil {
			return
		}
		m.lose(b, reasonExited+exitStatus(pid))
	}()
	return nil
}

// exitStatus describes how pid ended, as " (signal 9)" or " (exit status
// 1)", while it is a zombie not yet reaped; "" when that is not known.
func exitStatus(pid int) string {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return ""
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); exit_code is field 52.
	if len(f) < 50 || f[0] != "Z" {
		return ""
	}
	code, err := strconv.Atoi(f[49])
	if err != nil {
		return ""
	}
	ws := unix.WaitStatus(code)
	switch {
	case ws.Signaled():
		return fmt.Sprintf(" (signal %d)", int(ws.Signal()))
	case ws.Exited():
		return fmt.Sprintf(" (exit status %d)", ws.ExitStatus())
	}
	return ""
}

// refused is the agent client's peer-check hook: a connection that led to
// another process than the container's init means the sandbox's channel
// cannot be trusted, so the sandbox ends.
func (m *Manager) refused(b *box) func(error) {
	return func(err error) {
		var pe *agent.PeerError
		if errors.As(err, &pe) {
			m.log.Error("agent connection refused: wrong peer", "sandbox", b.id, "err", err)
		} else {
			m.log.Error("agent connection refused: peer credentials unreadable", "sandbox", b.id, "err", err)
		}
		go m.lose(b, reasonPeer)
	}
}

// lose ends a sandbox that ended on its own: it is torn down, the OnExit
// hook is told, and then it leaves the list. One that was destroyed (or lost)
// already is left alone.
func (m *Manager) lose(b *box, reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	m.log.Warn("sandbox ended on its own; tearing it down", "sandbox", b.id, "reason", reason)
	if err := m.teardown(b); err != nil {
		m.log.Error("tearing down a lost sandbox", "sandbox", b.id, "err", err)
	}
	m.mu.Lock()
	hook := m.onExit
	m.mu.Unlock()
	if hook != nil {
		hook(b.id, reason)
	}
	m.mu.Lock()
	if m.boxes[b.id] == b {
		delete(m.boxes, b.id)
	}
	m.mu.Unlock()
}

package sandbox

import (
	"fmt"

	"github.com/warrenhq/warren/sandbox/agent"
	"github.com/warrenhq/warren/sandbox/runc"
)

// agentPeer is the process every connection to a sandbox's agent socket must
// lead to (SO_PEERCRED), as strict as the runtime allows:
//
//   - runc: the container's init itself (host pid pid), running as sandbox
//     root (the first host id of the map). The node bound the socket and the
//     init listens on the inherited fd, so no other process can answer.
//   - gVisor: the container's gofer (its pid from runsc's state), running as
//     sandbox root too (runsc runs it in the sandbox's user namespace). The agent (PID 1 inside
//     gVisor's kernel) binds its socket in the ctl dir, and runsc's gofer
//     creates, binds and listens on the host socket for it (--host-uds=create),
//     so the kernel names the gofer as the peer. No host process but that
//     gofer can answer; which process inside the sandbox holds the socket
//     the host cannot see — gVisor's kernel is the wall there.
func (m *Manager) agentPeer(b *box, pid int) (agent.Peer, error) {
	if b.rt.Runtime() != runc.RuntimeGVisor {
		return agent.Peer{Pid: pid, UID: int(m.cfg.IDMap.HostID)}, nil
	}
	gofer, err := b.rt.GoferPid(b.id)
	if err != nil {
		return agent.Peer{}, fmt.Errorf("the agent's peer: %w", err)
	}
	return agent.Peer{Pid: gofer, UID: int(m.cfg.IDMap.HostID)}, nil
}

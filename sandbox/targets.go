package sandbox

import (
	"sort"

	"github.com/warrenhq/warren/sandbox/netns"
)

// Running is a live sandbox's host-side handles, for a metrics sampler:
// nothing here is a path the sandbox can write.
type Running struct {
	ID   string
	Team string // as given in Spec.Team
	// CgroupPath is its cgroup below every hierarchy's root (cgroupfs
	// driver), e.g. "/warren-<prefix>/<id>".
	CgroupPath string
	// HostVeth is the host end of its veth pair.
	HostVeth string
	// Rootfs is where its disk is mounted on the host.
	Rootfs string
}

// Running lists the live sandboxes, by ID. It includes sandboxes still being
// created (their cgroup may not exist yet) and does not wait for any
// sandbox's lifecycle lock.
func (m *Manager) Running() []Running {
	prefix := m.net.Config().Prefix
	m.mu.Lock()
	out := make([]Running, 0, len(m.boxes))
	for _, b := range m.boxes {
		// id and rootfs are set before a box is listed and never change;
		// team changes only under m.mu (SetTeam, a warm pool's claim).
		out = append(out, Running{ID: b.id, Team: b.team, CgroupPath: m.runc.CgroupsPath(b.id),
			HostVeth: netns.VethName(prefix, b.id), Rootfs: b.rootfs})
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

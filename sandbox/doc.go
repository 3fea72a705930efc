// Package sandbox is a node's sandbox runtime: it turns a template image into a
// running, isolated sandbox and back into nothing. A sandbox is
//
//   - a copy-on-write disk from the node's pool (blockdev), mounted as the rootfs;
//   - a network namespace with a veth on the node bridge (sandbox/netns);
//   - an OCI container run by runc (sandbox/runc) in its own user, pid, mount,
//     uts, ipc, net and cgroup namespaces, whose PID 1 is the static warren binary
//     running `warren agent` (sandbox/agent), reached over a unix socket the node
//     binds in a root-only host directory that no sandbox sees (<dir>/<id>/ctl)
//     and hands to the init as fd 3; every connection's SO_PEERCRED must be the
//     init's.
//
// The Manager watches every init (a pidfd): one that exits ends its sandbox,
// which is torn down and reported through the SetOnExit hook.
//
// Manager owns those resources and nothing else: it does not touch Postgres.
// Persisting the lifecycle (creating → running ↔ paused → killed | expired |
// failed | lost), the TTL reaper and start-up reconciliation live in
// sandboxes, which calls Manager.
//
// Every failure half-way through Create undoes what was done, and Destroy runs on
// a context detached from the caller's, so a cancelled request never leaks a
// device, mount, netns, cgroup or process.
package sandbox

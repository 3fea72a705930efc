// Package runc runs sandbox containers with the runc binary (Debian's runc 1.1,
// cgroupfs driver, cgroup v1 hybrid or v2) from OCI bundles built with the
// runtime-spec types.
//
// Spec turns SpecOptions (rootfs, init binary, network namespace, ID maps and
// limits) into a hardened spec: namespaces pid, mount, uts, ipc, net, cgroup and
// always user (sandbox root is an unprivileged host uid), the DefaultSeccomp
// profile, a minimal capability set, no_new_privileges, masked and read-only
// /proc and /sys paths, the standard device nodes only, and CPU, memory (no swap)
// and pids limits.
//
// Runc wraps the runc command line over a state directory of its own
// (Config.Root): Create, Start, Run, State, List, Pause, Resume, Kill, Delete
// and CleanupStale. Container IDs are the caller's (a sandbox ID); a
// container's cgroup is CgroupsPath(id) in every hierarchy. Delete and
// CleanupStale leave no process and no cgroup directory behind, in any v1
// hierarchy (named ones included) or the unified one.
//
// # Bundles
//
// The caller owns the bundle directory: Create writes config.json there, sends
// the init's stdin from /dev/null and its stdout and stderr to init.log, and
// keeps runc's own log in runc.log. The caller removes the bundle after Delete.
package runc

// Package metrics samples the resource use of a node's running sandboxes and
// keeps a bounded recent history of each.
//
// Every Config.Interval (default 5 s) the Sampler asks its Source for the
// live sandboxes (Target: cgroup path, host-side veth, rootfs mount) and
// reads, from the host side only (nothing a sandbox can write is opened):
//
//   - CPU: the cgroup's CPU time (cgroup v1 cpuacct.usage, or v2 cpu.stat
//     usage_usec) as a share of its vCPU limit (v1 cpu.cfs_quota_us /
//     cpu.cfs_period_us, v2 cpu.max) over the last interval: 100 % is the
//     sandbox using all the vCPUs it may. A sandbox without a quota is
//     measured against the host's CPUs;
//   - memory: the cgroup's usage less its inactive page cache (what the
//     kernel would reclaim first; v1 memory.usage_in_bytes − total_inactive_file,
//     v2 memory.current − inactive_file) against its limit (v1
//     memory.limit_in_bytes, v2 memory.max);
//   - disk: statfs of the sandbox's mounted rootfs (used and size of the
//     filesystem the sandbox sees);
//   - network: the byte counters of the veth's host end, swapped to the
//     sandbox's point of view (what the host end transmits, the sandbox
//     received).
//
// The cgroup layout is found under Config.CgroupRoot: a unified (v2)
// hierarchy when its root holds cgroup.controllers, else one v1 hierarchy per
// controller (cpu, cpuacct, memory; joined mounts such as cpu,cpuacct too).
//
// A sandbox's first sample comes one interval after the sampler first sees
// it (CPU needs two readings). Each sandbox keeps Config.History worth of
// samples (default one hour: 720 at 5 s) in a ring; its history is dropped as
// soon as it is no longer in the Source's list.
package metrics

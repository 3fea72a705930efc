package runc

import (
	"fmt"
	"math"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// InitPath is where Spec bind-mounts the init binary inside the container.
const InitPath = "/.warren/init"

// CtlPath is where Spec bind-mounts SpecOptions.CtlDir inside a gVisor
// container: the directory the agent creates its socket in.
const CtlPath = "/.warren/ctl"

// Defaults applied by Spec to zero-valued options.
const (
	DefaultPids      = 1024
	DefaultIDBase    = 100000
	DefaultIDMapSize = 65536
	// CPUPeriod is the CFS period (µs); the quota is VCPUs periods.
	CPUPeriod = 100000
	// MinMemoryBytes is the smallest memory limit Spec accepts.
	MinMemoryBytes = 8 << 20
)

// IDMap maps container IDs 0..Size-1 to host IDs HostID..HostID+Size-1.
type IDMap struct {
	HostID uint32
	Size   uint32
}

// BindMount makes host path Source visible at Destination inside the container.
type BindMount struct {
	Source      string
	Destination string
	ReadOnly    bool
}

// SpecOptions describe one sandbox container. Zero values take the defaults
// noted on each field.
type SpecOptions struct {
	ID       string // container ID (runc's rules: letters, digits, '_', '-', '.', '+')
	Rootfs   string // absolute path of the mounted root filesystem
	Hostname string // default: ID
	// Init is the host path of a static init binary, bind-mounted read-only at
	// InitPath and run as PID 1 with Args (argv[0] is InitPath).
	Init string
	Args []string
	Env  []string // default PATH and HOME are added when missing
	Cwd  string   // default "/"
	// BindMounts are extra host paths (e.g. the agent's socket dir).
	BindMounts []BindMount
	// NetNSPath joins an existing network namespace (e.g. /run/netns/<name>);
	// empty creates a new one with only loopback.
	NetNSPath string
	// UIDMap and GIDMap map sandbox root to an unprivileged host range. The user
	// namespace is always on. Default: HostID 100000, Size 65536.
	UIDMap, GIDMap IDMap
	VCPUs          float64 // CPU quota in CPUs (0.5 = half a CPU); 0 = unlimited
	MemoryBytes    int64   // hard memory limit, swap included (no swap); 0 = unlimited
	Pids           int64   // max tasks; 0 = DefaultPids
	// CgroupsPath is the container's cgroup under each hierarchy (cgroupfs
	// driver), e.g. Runc.CgroupsPath(id) = "/warren/<id>". Required.
	CgroupsPath string
	// Runtime is the runtime the spec is for (default RuntimeRunc). For
	// RuntimeGVisor the spec carries no seccomp profile: the sandbox's
	// processes never reach the host kernel, and runsc confines its own
	// sentry and gofer with gVisor's host seccomp filters.
	Runtime Runtime
	// CtlDir (gVisor only, required there) is the host directory bound
	// read-write at CtlPath, where the agent creates its socket: under runsc
	// (--host-uds=create) the socket is a host socket the node can dial,
	// while an inherited socket fd could not listen.
	CtlDir string
}

// Spec builds the OCI runtime spec for a sandbox container: namespaces pid,
// mount, uts, ipc, net, cgroup and user; the DefaultSeccomp profile; the
// Capabilities set; no_new_privileges; masked and read-only /proc paths; a
// minimal /sys (sysMounts); only the standard device nodes; CPU, memory and pids limits.
func Spec(o SpecOptions) (*specs.Spec, error) {
	return buildSpec(o, true)
}

// buildSpec is Spec with the user namespace optional, for the benchmark that
// measures its cost. Production code always goes through Spec.
func buildSpec(o SpecOptions, userns bool) (*specs.Spec, error) {
	if err := o.normalize(); err != nil {
		return nil, err
	}
	caps := Capabilities()
	s := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: o.Rootfs},
		Hostname: o.Hostname,
		Process: &specs.Process{
			User:            specs.User{UID: 0, GID: 0},
			Args:            append([]string{InitPath}, o.Args...),
			Env:             o.Env,
			Cwd:             o.Cwd,
			NoNewPrivileges: true,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
		},
		Mounts: mounts(o),
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.MountNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.NetworkNamespace, Path: o.NetNSPath},
				{Type: specs.CgroupNamespace},
			},
			CgroupsPath:   o.CgroupsPath,
			Resources:     resources(o),
			Seccomp:       DefaultSeccomp(),
			MaskedPaths:   MaskedPaths(),
			ReadonlyPaths: ReadonlyPaths(),
		},
	}
	if userns {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: o.UIDMap.HostID, Size: o.UIDMap.Size}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: o.GIDMap.HostID, Size: o.GIDMap.Size}}
	}
	if o.Runtime == RuntimeGVisor {
		s.Linux.Seccomp = nil
	}
	if o.NetNSPath == "" {
		// Unprivileged ICMP sockets (busybox/iputils ping without CAP_NET_RAW). Only
		// a netns owned by the sandbox's user namespace lets runc write its sysctls;
		// a joined netns is configured by whoever created it.
		// The range must be mappable in the sandbox's user namespace.
		maxGID := uint32(2147483647)
		if userns {
			maxGID = o.GIDMap.Size - 1
		}
		s.Linux.Sysctl = map[string]string{"net.ipv4.ping_group_range": fmt.Sprintf("0 %d", maxGID)}
	}
	return s, nil
}

// Capabilities is the sandbox's capability set (bounding, effective and
// permitted; inheritable and ambient are empty). Chosen as the container
// default list minus what a sandbox does not need:
//
//	kept:    CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
//	         SETFCAP (dpkg/setcap in templates) NET_BIND_SERVICE SYS_CHROOT
//	dropped: NET_RAW (raw sockets; ping uses ICMP datagram sockets instead),
//	         MKNOD (no device nodes), AUDIT_WRITE (no audit in a user namespace)
//	never:   SYS_ADMIN, SYS_MODULE, SYS_PTRACE, SYS_TIME, SYS_BOOT, SYS_RAWIO,
//	         SYS_RESOURCE, NET_ADMIN, DAC_READ_SEARCH, BPF, PERFMON, ...
//
// All of them are confined to the sandbox's user namespace.
func Capabilities() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_SETFCAP",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
	}
}

// MaskedPaths are hidden inside the container (files: /dev/null bound over;
// directories: an empty read-only tmpfs). None is under /sys: the minimal /sys
// (sysMounts) holds nothing of firmware, powercap or debugfs to hide.
func MaskedPaths() []string {
	return []string{
		"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi",
	}
}

// ReadonlyPaths are remounted read-only inside the container.
func ReadonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

func resources(o SpecOptions) *specs.LinuxResources {
	pids := o.Pids
	r := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}, // runc adds the standard nodes
		Pids:    &specs.LinuxPids{Limit: &pids},
	}
	if o.VCPUs > 0 {
		quota := int64(math.Round(o.VCPUs * CPUPeriod))
		period := uint64(CPUPeriod)
		r.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	}
	if o.MemoryBytes > 0 {
		limit, swap := o.MemoryBytes, o.MemoryBytes // memory+swap = memory: no swap
		r.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &swap}
	}
	return r
}

func mounts(o SpecOptions) []specs.Mount {
	m := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
	}
	m = append(m, sysMounts()...)
	m = append(m, []specs.Mount{
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		{Destination: InitPath, Type: "bind", Source: o.Init, Options: []string{"bind", "ro", "nosuid", "nodev"}},
	}...)
	if o.CtlDir != "" {
		m = append(m, specs.Mount{Destination: CtlPath, Type: "bind", Source: o.CtlDir,
			Options: []string{"bind", "nosuid", "nodev", "noexec"}})
	}
	for _, b := range o.BindMounts {
		opts := []string{"rbind", "nosuid", "nodev"}
		if b.ReadOnly {
			opts = append(opts, "ro")
		}
		m = append(m, specs.Mount{Destination: b.Destination, Type: "bind", Source: b.Source, Options: opts})
	}
	return m
}

// sysMounts build a minimal /sys: a small read-only tmpfs holding only
// read-only binds of the host's /sys/devices/system/cpu and .../node (CPU
// count and topology for nproc, sysconf(_SC_NPROCESSORS_ONLN), lscpu); the
// cgroup mount follows it in mounts. Neither the host's /sys nor a fresh sysfs
// is mounted: both show the host's block devices (a loop device's
// loop/backing_file names every sandbox's disk image under the data dir) and
// modules, and the host's /sys shows the host's network interfaces. The
// sandbox's own interfaces are read over netlink (ip(8), getifaddrs); there is
// no /sys/class/net.
func sysMounts() []specs.Mount {
	m := []specs.Mount{{Destination: "/sys", Type: "tmpfs", Source: "sysfs-min",
		Options: []string{"nosuid", "noexec", "nodev", "ro", "mode=755", "size=64k", "nr_inodes=64"}}}
	for _, d := range sysBinds {
		if _, err := os.Stat(d); err == nil {
			m = append(m, specs.Mount{Destination: d, Type: "bind", Source: d,
				Options: []string{"bind", "ro", "nosuid", "noexec", "nodev"}})
		}
	}
	return m
}

// sysBinds are the host sysfs directories bound read-only into the minimal
// /sys (non-recursively: nothing mounted below them comes along).
var sysBinds = []string{"/sys/devices/system/cpu", "/sys/devices/system/node"}

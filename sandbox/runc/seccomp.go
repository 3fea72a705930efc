package runc

import (
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// allowedSyscalls is the unconditional allow list of the default seccomp
// profile, modeled on the well-known container default profile (Docker's and
// containerd's) for a process without CAP_SYS_ADMIN, CAP_SYS_MODULE,
// CAP_SYS_BOOT, CAP_SYS_TIME or CAP_SYS_RAWIO. ptrace and process_vm_* are
// allowed as in Docker's profile on kernels >= 4.8: without CAP_SYS_PTRACE they
// reach only same-uid processes of the sandbox's own PID namespace. Everything not listed fails with EPERM; notable denials: mount, umount2,
// pivot_root, unshare, setns, kexec_load/kexec_file_load, init_module,
// finit_module, delete_module, reboot, swapon, swapoff, open_by_handle_at,
// name_to_handle_at, bpf, perf_event_open, keyctl, add_key, request_key,
// userfaultfd, acct, quotactl, lookup_dcookie, iopl, ioperm, settimeofday,
// clock_settime, adjtimex, syslog, vhangup, the new mount API (fsopen, fsmount,
// move_mount, open_tree, ...) and io_uring. clone is allowed only without
// namespace flags (see namespaceFreeClone) and clone3 returns ENOSYS so libc
// falls back to clone, whose flags seccomp can inspect. socket is allowed only
// for socketFamilies (see socketRules); socketcall (the 32-bit x86
// multiplexer, whose arguments sit behind a pointer seccomp cannot read)
// returns ENOSYS so it cannot bypass that filter: 32-bit x86 programs need a
// libc that calls socket(2) directly (glibc >= 2.23 and musl try the direct
// call first or only).
var allowedSyscalls = []string{
	"accept", "accept4", "access", "alarm", "bind", "brk", "cachestat", "capget", "capset",
	"chdir", "chmod", "chown", "chown32", "chroot", "clock_adjtime", "clock_adjtime64",
	"clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
	"clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
	"copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
	"epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
	"epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
	"faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark",
	"fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl",
	"fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
	"fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync",
	"ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait",
	"futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64",
	"getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
	"getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
	"getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32",
	"getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt",
	"get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr",
	"inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel",
	"ioctl", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
	"ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule",
	"landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32", "lgetxattr",
	"link", "linkat", "listen", "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek",
	"lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack", "membarrier",
	"memfd_create", "mincore", "mkdir", "mkdirat", "mknod", "mknodat",
	"mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify",
	"mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
	"mq_timedsend_time64", "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv",
	"msgsnd", "msync", "munlock", "munlockall", "munmap",
	"nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2", "pause",
	"pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
	"pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
	"prlimit64", "process_mrelease", "process_vm_readv", "process_vm_writev", "pselect6",
	"pselect6_time64", "ptrace", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
	"readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
	"recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
	"restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
	"rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
	"rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
	"sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
	"sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
	"sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
	"sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
	"semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
	"setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
	"setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
	"setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
	"setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
	"set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
	"shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
	"socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx",
	"symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill",
	"time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
	"timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
	"timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
	"tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat",
	"utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4",
	"waitid", "waitpid", "write", "writev",
}

// archSyscalls are allowed on the named GOARCH only.
var archSyscalls = map[string][]string{
	"amd64": {"arch_prctl", "modify_ldt"},
	"arm64": {"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"},
}

// namespaceFlags are the clone flags that create namespaces; clone with any of
// them fails (EPERM) under the default profile.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// DefaultSeccomp returns the default seccomp profile: default action
// ERRNO(EPERM), the allow list above, personality only with the standard
// personas, clone without namespace flags, clone3 as ENOSYS.
func DefaultSeccomp() *specs.LinuxSeccomp {
	eperm := uint(unix.EPERM)
	enosys := uint(unix.ENOSYS)
	names := append([]string(nil), allowedSyscalls...)
	names = append(names, archSyscalls[runtime.GOARCH]...)
	s := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		Architectures:   arches(),
		Syscalls: []specs.LinuxSyscall{
			{Names: names, Action: specs.ActAllow},
			{Names: []string{"clone3", "socketcall"}, Action: specs.ActErrno, ErrnoRet: &enosys},
		},
	}
	s.Syscalls = append(s.Syscalls, socketRules()...)
	// personality(2): PER_LINUX, PER_LINUX32, UNAME26 variants and the query.
	for _, p := range []uint64{0x0, 0x0008, 0x20000, 0x20008, 0xffffffff} {
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
			Names: []string{"personality"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: p, Op: specs.OpEqualTo}},
		})
	}
	cloneFlagsArg := uint(0)
	if runtime.GOARCH == "s390x" {
		cloneFlagsArg = 1
	}
	s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{
		Names: []string{"clone"}, Action: specs.ActAllow,
		Args: []specs.LinuxSeccompArg{{Index: cloneFlagsArg, Value: namespaceFlags, ValueTwo: 0, Op: specs.OpMaskedEqual}},
	})
	return s
}

// socketFamilies are the address families socket(2) may create: local,
// IPv4, IPv6 and netlink (ip(8), getifaddrs). Every other family (AF_VSOCK to
// the host, AF_PACKET, AF_KEY, AF_ALG, AF_BLUETOOTH, ...) fails with
// EAFNOSUPPORT, which libraries read as "not built into this kernel" and fall
// back from cleanly.
var socketFamilies = []uint64{unix.AF_UNIX, unix.AF_INET, unix.AF_INET6, unix.AF_NETLINK}

// socketRules allow socket(2) for exactly socketFamilies and return
// EAFNOSUPPORT for every other value of the family argument, as one rule per
// value or range (rules in one entry AND their conditions, so disjoint values
// need entries of their own). The family is compared as the full 64-bit
// register: a value with high bits set never equals an allowed family and
// lands in the "greater than" rule, so nothing reaches the default EPERM.
func socketRules() []specs.LinuxSyscall {
	eafnosupport := uint(unix.EAFNOSUPPORT)
	var rules []specs.LinuxSyscall
	allowed := map[uint64]bool{}
	var maxAllowed uint64
	for _, f := range socketFamilies {
		allowed[f] = true
		maxAllowed = max(maxAllowed, f)
		rules = append(rules, specs.LinuxSyscall{
			Names: []string{"socket"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: f, Op: specs.OpEqualTo}},
		})
	}
	for f := uint64(0); f < maxAllowed; f++ {
		if !allowed[f] {
			rules = append(rules, specs.LinuxSyscall{
				Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: &eafnosupport,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: f, Op: specs.OpEqualTo}},
			})
		}
	}
	return append(rules, specs.LinuxSyscall{
		Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: &eafnosupport,
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: maxAllowed, Op: specs.OpGreaterThan}},
	})
}

func arches() []specs.Arch {
	switch runtime.GOARCH {
	case "amd64":
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case "arm64":
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	default:
		return nil
	}
}

// Command sysprobe runs inside a sandbox and tries one way out per call, with
// raw system calls. It prints one line: "BLOCKED <why>" when the attempt
// failed, "ESCAPED <what>" when it worked, "ERROR <what>" when the probe itself
// could not run. The hardening suite builds it (static, CGO_ENABLED=0) and
// uploads it through the files API.
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Println("ERROR usage: sysprobe <attack> [args]")
		os.Exit(2)
	}
	f, ok := attacks[os.Args[1]]
	if !ok {
		fmt.Println("ERROR unknown attack", os.Args[1])
		os.Exit(2)
	}
	fmt.Println(f(os.Args[2:]))
}

// result turns the outcome of one attempt into the printed line.
func result(err error, what string) string {
	if err != nil {
		return "BLOCKED " + err.Error()
	}
	return "ESCAPED " + what
}

var attacks = map[string]func(args []string) string{
	"mount": func([]string) string {
		return result(unix.Mount("tmpfs", "/mnt", "tmpfs", 0, ""), "mounted a tmpfs")
	},
	"bind-host": func([]string) string {
		return result(unix.Mount("/", "/mnt", "", unix.MS_BIND|unix.MS_REC, ""), "bind-mounted /")
	},
	"umount": func([]string) string {
		return result(unix.Unmount("/proc/sys", unix.MNT_DETACH), "unmounted the read-only /proc/sys")
	},
	"remount-init-rw": func([]string) string {
		return result(unix.Mount("", "/.warren/init", "", unix.MS_REMOUNT|unix.MS_BIND, ""), "remounted the init binary read-write")
	},
	"write": func(args []string) string { // write <path> <data>
		fd, err := unix.Open(args[0], unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return result(err, "")
		}
		defer unix.Close(fd)
		_, err = unix.Write(fd, []byte(args[1]))
		return result(err, "wrote "+args[0])
	},
	"open-write": func(args []string) string { // open a file for writing only
		fd, err := unix.Open(args[0], unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		return result(err, "opened "+args[0]+" for writing")
	},
	"read": func(args []string) string { // read <path>: ESCAPED when readable
		b, err := os.ReadFile(args[0])
		if err == nil && len(b) == 0 {
			err = fmt.Errorf("empty")
		}
		return result(err, fmt.Sprintf("read %d bytes of %s", len(b), args[0]))
	},
	"mknod-block": func([]string) string {
		err := unix.Mknod("/tmp/sda", unix.S_IFBLK|0o600, int(unix.Mkdev(8, 0)))
		if err == nil {
			fd, oerr := unix.Open("/tmp/sda", unix.O_RDONLY, 0)
			if oerr != nil {
				return "BLOCKED mknod worked but open failed: " + oerr.Error()
			}
			unix.Close(fd)
		}
		return result(err, "made and opened a block device")
	},
	"mknod-mem": func([]string) string {
		err := unix.Mknod("/tmp/mem", unix.S_IFCHR|0o600, int(unix.Mkdev(1, 1)))
		if err == nil {
			fd, oerr := unix.Open("/tmp/mem", unix.O_RDONLY, 0)
			if oerr != nil {
				return "BLOCKED mknod worked but open failed: " + oerr.Error()
			}
			unix.Close(fd)
		}
		return result(err, "made and opened /dev/mem")
	},
	"init-module": func([]string) string {
		return result(unix.InitModule([]byte("\x7fELF not a module"), ""), "init_module accepted")
	},
	"finit-module": func([]string) string {
		fd, err := unix.Open("/.warren/init", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return "ERROR " + err.Error()
		}
		defer unix.Close(fd)
		return result(unix.FinitModule(fd, "", 0), "finit_module accepted")
	},
	"delete-module": func([]string) string {
		return result(unix.DeleteModule("loop", unix.O_NONBLOCK), "delete_module accepted")
	},
	"ptrace": func(args []string) string { // ptrace <pid>
		pid, _ := strconv.Atoi(args[0])
		err := unix.PtraceAttach(pid)
		if err == nil {
			_ = unix.PtraceDetach(pid)
		}
		return result(err, "attached to pid "+args[0])
	},
	"kill": func(args []string) string { // kill <pid> with signal 0
		pid, _ := strconv.Atoi(args[0])
		return result(unix.Kill(pid, 0), "signalled pid "+args[0])
	},
	"unshare-user": func([]string) string {
		return result(unix.Unshare(unix.CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
	},
	"unshare-mount": func([]string) string {
		return result(unix.Unshare(unix.CLONE_NEWNS), "unshare(CLONE_NEWNS)")
	},
	"unshare-net": func([]string) string {
		return result(unix.Unshare(unix.CLONE_NEWNET), "unshare(CLONE_NEWNET)")
	},
	"setns": func([]string) string {
		fd, err := unix.Open("/proc/1/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return result(err, "")
		}
		defer unix.Close(fd)
		return result(unix.Setns(fd, 0), "setns")
	},
	"keyctl": func([]string) string {
		_, err := unix.KeyctlJoinSessionKeyring("warren-probe")
		return result(err, "joined a session keyring")
	},
	"add-key": func([]string) string {
		_, err := unix.AddKey("user", "warren-probe", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
		return result(err, "added a key")
	},
	"bpf": func([]string) string {
		// BPF_MAP_CREATE of a tiny array map.
		attr := [5]uint32{2 /* BPF_MAP_TYPE_ARRAY */, 4, 4, 1, 0}
		fd, _, errno := unix.Syscall(unix.SYS_BPF, 0, uintptr(unsafe.Pointer(&attr[0])), unsafe.Sizeof(attr))
		if errno != 0 {
			return result(errno, "")
		}
		unix.Close(int(fd))
		return result(nil, "created a BPF map")
	},
	"perf-event-open": func([]string) string {
		attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK, Size: uint32(unsafe.Sizeof(unix.PerfEventAttr{}))}
		fd, err := unix.PerfEventOpen(&attr, -1, 0, -1, 0)
		if err == nil {
			unix.Close(fd)
		}
		return result(err, "opened a system-wide perf event")
	},
	"open-by-handle": func([]string) string {
		// The "shocker" escape: a handle for inode 2 (a filesystem root).
		h := unix.NewFileHandle(1, append([]byte{2, 0, 0, 0}, make([]byte, 4)...))
		fd, err := unix.OpenByHandleAt(unix.AT_FDCWD, h, unix.O_RDONLY)
		if err == nil {
			unix.Close(fd)
		}
		return result(err, "opened a file by handle")
	},
	"name-to-handle": func([]string) string {
		_, _, err := unix.NameToHandleAt(unix.AT_FDCWD, "/", 0)
		return result(err, "name_to_handle_at")
	},
	"raw-packet": func([]string) string {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
		if err == nil {
			unix.Close(fd)
		}
		return result(err, "opened an AF_PACKET raw socket")
	},
	"raw-ip": func([]string) string {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
		if err == nil {
			unix.Close(fd)
		}
		return result(err, "opened a SOCK_RAW socket")
	},
	"connect": func(args []string) string { // connect <host:port>
		c, err := net.DialTimeout("tcp", args[0], 2*time.Second)
		if err == nil {
			c.Close()
		}
		return result(err, "connected to "+args[0])
	},
	"sethostname": func(args []string) string {
		return result(unix.Sethostname([]byte(args[0])), "set the hostname")
	},
	"settimeofday": func([]string) string {
		var tv unix.Timeval
		if err := unix.Gettimeofday(&tv); err != nil {
			return "ERROR " + err.Error()
		}
		return result(unix.Settimeofday(&tv), "set the clock")
	},
	"clock-settime": func([]string) string {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_REALTIME, &ts); err != nil {
			return "ERROR " + err.Error()
		}
		_, _, errno := unix.Syscall(unix.SYS_CLOCK_SETTIME, unix.CLOCK_REALTIME, uintptr(unsafe.Pointer(&ts)), 0)
		if errno != 0 {
			return result(errno, "")
		}
		return result(nil, "clock_settime")
	},
	"adjtimex": func([]string) string {
		var tx unix.Timex
		tx.Modes = 0x0001 // ADJ_OFFSET with a zero offset
		_, err := unix.Adjtimex(&tx)
		return result(err, "adjtimex changed the clock")
	},
	"reboot": func([]string) string {
		return result(unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF), "reboot(CAD_OFF)")
	},
	"swapon": func([]string) string {
		p, _ := unix.BytePtrFromString("/tmp/noswap")
		_, _, errno := unix.Syscall(unix.SYS_SWAPON, uintptr(unsafe.Pointer(p)), 0, 0)
		if errno != 0 {
			return result(errno, "")
		}
		return result(nil, "swapon")
	},
	"io-uring": func([]string) string {
		params := make([]byte, 120)
		fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
		if errno != 0 {
			return result(errno, "")
		}
		unix.Close(int(fd))
		return result(nil, "io_uring_setup")
	},
	"userfaultfd": func([]string) string {
		fd, _, errno := unix.Syscall(unix.SYS_USERFAULTFD, 0, 0, 0)
		if errno != 0 {
			return result(errno, "")
		}
		unix.Close(int(fd))
		return result(nil, "userfaultfd")
	},
	"chroot-escape": func(args []string) string { // chroot-escape <host path that must stay invisible>
		if err := os.MkdirAll("/tmp/jail", 0o755); err != nil {
			return "ERROR " + err.Error()
		}
		root, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return "ERROR " + err.Error()
		}
		if err := unix.Chroot("/tmp/jail"); err != nil {
			return "BLOCKED chroot: " + err.Error()
		}
		// The classic escape: fchdir to a directory outside the chroot, walk up.
		if err := unix.Fchdir(root); err != nil {
			return "BLOCKED fchdir: " + err.Error()
		}
		for range 64 {
			_ = unix.Chdir("..")
		}
		if err := unix.Chroot("."); err != nil {
			return "BLOCKED chroot .: " + err.Error()
		}
		if _, err := os.Stat(args[0]); err == nil {
			return "ESCAPED reached the host path " + args[0]
		}
		return "BLOCKED the walk up stopped at the sandbox root"
	},
	"membomb": func(args []string) string { // membomb <MiB>: touch that much memory
		n, _ := strconv.Atoi(args[0])
		var keep [][]byte
		for i := 0; i < n; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			keep = append(keep, b)
		}
		return fmt.Sprintf("ESCAPED touched %d MiB", len(keep))
	},
	"cgroup-escape": func([]string) string {
		// Move ourselves to the root cgroup of the pids hierarchy.
		err := os.WriteFile("/sys/fs/cgroup/pids/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0)
		return result(err, "joined another cgroup")
	},
	"release-agent": func([]string) string {
		// The cgroup v1 release_agent escape needs a writable cgroup root.
		err := os.WriteFile("/sys/fs/cgroup/memory/release_agent", []byte("/tmp/x"), 0)
		return result(err, "set release_agent")
	},
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

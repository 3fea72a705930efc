package runc

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// checkMinimalSys asserts the spec's /sys is a read-only tmpfs whose only
// host content is read-only binds of sysBinds, plus the cgroup mount.
func checkMinimalSys(t *testing.T, s *specs.Spec) {
	t.Helper()
	sys := mountAt(s, "/sys")
	if sys.Type != "tmpfs" || !slices.Contains(sys.Options, "ro") || !slices.Contains(sys.Options, "nodev") ||
		!slices.Contains(sys.Options, "noexec") || !slices.Contains(sys.Options, "nosuid") {
		t.Errorf("/sys mount %+v, want a read-only nosuid,noexec,nodev tmpfs", sys)
	}
	for _, m := range s.Mounts {
		if m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup" || !strings.HasPrefix(m.Destination, "/sys/") {
			continue
		}
		if !slices.Contains(sysBinds, m.Destination) || m.Source != m.Destination || !slices.Contains(m.Options, "ro") ||
			slices.Contains(m.Options, "rbind") {
			t.Errorf("mount under /sys %+v, want only non-recursive read-only binds of %v", m, sysBinds)
		}
	}
	for _, p := range MaskedPaths() {
		if strings.HasPrefix(p, "/sys") {
			t.Errorf("masked path %s under the minimal /sys", p)
		}
	}
}

// TestSeccompSocketRules checks the socket(2) rules cover every family value
// exactly once: allowed families allow, everything else EAFNOSUPPORT.
func TestSeccompSocketRules(t *testing.T) {
	var rules []specs.LinuxSyscall
	for _, r := range DefaultSeccomp().Syscalls {
		if slices.Contains(r.Names, "socket") {
			rules = append(rules, r)
		}
	}
	match := func(f uint64) []specs.LinuxSyscall {
		var out []specs.LinuxSyscall
		for _, r := range rules {
			if len(r.Args) != 1 || r.Args[0].Index != 0 {
				t.Fatalf("socket rule %+v: want one condition on the family", r)
			}
			a := r.Args[0]
			if (a.Op == specs.OpEqualTo && f == a.Value) || (a.Op == specs.OpGreaterThan && f > a.Value) {
				out = append(out, r)
			}
		}
		return out
	}
	for _, f := range []uint64{0, unix.AF_UNIX, unix.AF_INET, 3, unix.AF_INET6, unix.AF_KEY, unix.AF_NETLINK,
		unix.AF_PACKET, unix.AF_BLUETOOTH, unix.AF_ALG, unix.AF_VSOCK, unix.AF_XDP, 1 << 32, 1<<32 | unix.AF_INET, ^uint64(0)} {
		m := match(f)
		if len(m) != 1 {
			t.Errorf("family %#x matches %d socket rules, want 1", f, len(m))
			continue
		}
		wantAllow := slices.Contains(socketFamilies, f)
		if got := m[0].Action == specs.ActAllow; got != wantAllow {
			t.Errorf("family %#x: action %s, want allowed=%v", f, m[0].Action, wantAllow)
		}
		if !wantAllow && (m[0].Action != specs.ActErrno || *m[0].ErrnoRet != uint(unix.EAFNOSUPPORT)) {
			t.Errorf("family %#x: %s/%v, want errno EAFNOSUPPORT", f, m[0].Action, m[0].ErrnoRet)
		}
	}
}

// TestMinimalSysLive runs a real container and checks its /sys shows nothing
// of the host's block devices, loop backing files, interfaces or modules,
// while CPU counting works. Control: the host's /sys has those entries.
func TestMinimalSysLive(t *testing.T) {
	for _, p := range []string{"/sys/block", "/sys/class/net/lo", "/sys/module"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("control: host %s: %v", p, err)
		}
	}
	r := newRunc(t)
	id := testID()
	start(t, r, opts(t, r, id))
	hostBacking, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if len(hostBacking) == 0 {
		t.Fatal("control: no loop backing_file on the host, though the test's rootfs is loop-mounted")
	}
	if out, _ := execIn(t, r, id, "ls", "/sys"); !slices.Equal(strings.Fields(out), []string{"devices", "fs"}) {
		t.Errorf("ls /sys = %q, want devices fs", out)
	}
	if out, _ := execIn(t, r, id, "sh", "-c", "find /sys -name backing_file; ls -d /sys/block /sys/class /sys/module /sys/kernel 2>/dev/null; true"); strings.TrimSpace(out) != "" {
		t.Errorf("host views inside /sys:\n%s", out)
	}
	if out, _ := execIn(t, r, id, "sh", "-c", "cat /sys/devices/system/cpu/*/loop/backing_file /sys/block/loop0/loop/backing_file 2>&1; true"); strings.Contains(out, "/") && !strings.Contains(out, "No such file") {
		t.Errorf("backing file readable: %s", out)
	}
	want := fmt.Sprint(len(mustAffinity(t)))
	if out, code := execIn(t, r, id, "nproc"); code != 0 || strings.TrimSpace(out) != want {
		t.Errorf("nproc = %q (exit %d), want %s", out, code, want)
	}
	for _, argv := range [][]string{{"cat", "/sys/devices/system/cpu/online"}, {"free"}, {"top", "-bn1"}, {"ip", "link"}, {"ls", "/sys/fs/cgroup"}} {
		if out, code := execIn(t, r, id, argv...); code != 0 || strings.TrimSpace(out) == "" {
			t.Errorf("%v: exit %d, output %q", argv, code, out)
		}
	}
	if out, code := execIn(t, r, id, "sh", "-c", "echo x > /sys/x || mkdir /sys/y"); code == 0 {
		t.Errorf("writing the minimal /sys succeeded: %s", out)
	}
}

func mustAffinity(t *testing.T) []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	var cpus []int
	for i := 0; i < 1024; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus
}

// TestSocketFamiliesLive creates sockets of each family inside a real
// container: AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK work; AF_VSOCK,
// AF_PACKET, AF_ALG, AF_KEY, AF_BLUETOOTH and an unknown family fail with
// EAFNOSUPPORT. Control: AF_PACKET works on the host.
func TestSocketFamiliesLive(t *testing.T) {
	hostFd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		t.Fatalf("control: AF_PACKET on the host: %v", err)
	}
	unix.Close(hostFd)
	r := newRunc(t)
	id := testID()
	start(t, r, opts(t, r, id))
	fams := []int{unix.AF_UNIX, unix.AF_INET, unix.AF_INET6, unix.AF_NETLINK, unix.AF_VSOCK, unix.AF_PACKET, unix.AF_ALG, unix.AF_KEY, unix.AF_BLUETOOTH, 200}
	argv := []string{InitPath, "-socket"}
	for _, f := range fams {
		argv = append(argv, fmt.Sprint(f))
	}
	out, code := execIn(t, r, id, argv...)
	if code != 0 {
		t.Fatalf("socket probe exit %d: %s", code, out)
	}
	got := map[string]string{}
	for _, l := range strings.Fields(out) {
		k, v, _ := strings.Cut(l, "=")
		got[k] = v
	}
	for _, f := range fams {
		want := fmt.Sprint(int(unix.EAFNOSUPPORT))
		if f <= unix.AF_NETLINK && f != unix.AF_KEY {
			want = "ok"
		}
		if got[fmt.Sprint(f)] != want {
			t.Errorf("socket(%d) inside = %q, want %s (probe output %q)", f, got[fmt.Sprint(f)], want, out)
		}
	}
}

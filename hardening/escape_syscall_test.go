package hardening_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sleep(ms int) { time.Sleep(time.Duration(ms) * time.Millisecond) }

// runProbe runs the uploaded sysprobe with args in sandbox id and returns its
// line; an ERROR line or no line fails t.
func runProbe(t *testing.T, c *client, id string, args ...string) string {
	t.Helper()
	res := c.run(t, id, 30, append([]string{"/probe"}, args...)...)
	line := strings.TrimSpace(res.Stdout)
	if !strings.HasPrefix(line, "BLOCKED") && !strings.HasPrefix(line, "ESCAPED") {
		t.Fatalf("probe %v: exit %d stdout %q stderr %q", args, res.ExitCode, res.Stdout, res.Stderr)
	}
	return line
}

// TestEscapeSyscalls tries, from inside a sandbox with raw system calls, every
// privileged operation a container escape starts with. Each must fail.
func TestEscapeSyscalls(t *testing.T) {
	n, c := startNode(t)
	sb := c.create(t, nil)
	c.upload(t, sb, "/probe", probe(t), "0755")
	// Positive control: the probe reports success when the thing works (a
	// signal to itself's own PID namespace init's child is allowed).
	if got := runProbe(t, c, sb, "kill", "1"); !strings.HasPrefix(got, "ESCAPED") {
		t.Fatalf("control: signal 0 to the sandbox's own pid 1 failed: %s", got)
	}

	// A file on the host that no sandbox may see.
	secretDir := t.TempDir()
	_ = os.Chmod(secretDir, 0o755)
	secret := filepath.Join(secretDir, "host-secret")
	if err := os.WriteFile(secret, []byte("host-secret-"+strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	hostPID := strconv.Itoa(os.Getpid())
	corePattern, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
	ksm, _ := os.ReadFile("/sys/kernel/mm/ksm/run")
	initBin, err := os.Stat(n.Config.AgentBinary)
	if err != nil {
		t.Fatal(err)
	}

	attempts := [][]string{
		{"mount"}, {"bind-host"}, {"umount"}, {"remount-init-rw"},
		{"mknod-block"}, {"mknod-mem"},
		{"init-module"}, {"finit-module"}, {"delete-module"},
		{"ptrace", hostPID}, {"kill", hostPID},
		{"unshare-user"}, {"unshare-mount"}, {"unshare-net"}, {"setns"},
		{"keyctl"}, {"add-key"}, {"bpf"}, {"perf-event-open"},
		{"open-by-handle"}, {"name-to-handle"},
		{"raw-packet"}, {"raw-ip"},
		{"settimeofday"}, {"clock-settime"}, {"adjtimex"},
		{"reboot"}, {"swapon"}, {"io-uring"}, {"userfaultfd"},
		{"cgroup-escape"}, {"release-agent"},
		// Writes that would change the host if they landed: each writes the
		// value the host already has, so even a success changes nothing.
		{"write", "/proc/sys/kernel/core_pattern", strings.TrimSpace(string(corePattern))},
		{"write", "/proc/sys/vm/drop_caches", "1"},
		{"write", "/proc/sysrq-trigger", "h"},
		{"write", "/proc/sys/kernel/hostname", "sandbox"},
		{"write", "/sys/kernel/mm/ksm/run", strings.TrimSpace(string(ksm))},
		{"write", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "-1"},
		{"write", "/sys/fs/cgroup/pids/pids.max", "max"},
		// The init binary is the host's warren binary (CVE-2019-5736 style).
		{"open-write", "/.warren/init"},
		{"open-write", "/proc/1/exe"},
		// Host paths and host processes are not in the sandbox's view.
		{"read", secret},
		{"read", "/proc/" + hostPID + "/environ"},
		{"read", "/proc/" + hostPID + "/root" + secret},
		{"read", "/proc/kcore"},
		{"read", "/proc/keys"},
		{"read", "/dev/kmsg"},
		{"chroot-escape", secret},
	}
	for _, a := range attempts {
		name := strings.Join(a, " ")
		if len(name) > 80 {
			name = name[:80]
		}
		got := runProbe(t, c, sb, a...)
		t.Logf("%s: %s", name, got)
		attack(t, "syscall", name, strings.HasPrefix(got, "BLOCKED"), got)
	}

	// The host is as it was.
	if b, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); string(b) != string(corePattern) {
		attack(t, "host", "core_pattern unchanged", false, string(b))
	}
	if fi, err := os.Stat(n.Config.AgentBinary); err != nil || fi.Size() != initBin.Size() || !fi.ModTime().Equal(initBin.ModTime()) {
		attack(t, "host", "init binary unchanged", false, err)
	} else {
		attack(t, "host", "init binary unchanged", true)
	}

	// busybox's own tools, the way a script would try.
	for _, cmd := range []string{
		"mount -t proc proc /mnt", "umount /proc", "mknod /tmp/sdb b 8 16", "insmod /.warren/init",
		"modprobe loop", "echo 1 > /proc/sys/net/ipv4/ip_forward", "echo b > /proc/sysrq-trigger",
		"ip link set eth0 address 02:00:00:00:00:01", "ip addr add 10.1.2.3/32 dev eth0", "ip route add 10.2.0.0/16 dev eth0",
		"iptables -F", "swapoff -a", "sysctl -w kernel.panic=1", "chroot /proc/1/root /bin/true && test -e " + secret,
	} {
		res := c.sh(t, sb, cmd, 30)
		attack(t, "shell", cmd, res.ExitCode != 0, res)
	}
}

// TestEscapeHostnameClock changes the hostname and the clock inside and
// checks that the host's did not change.
func TestEscapeHostnameClock(t *testing.T) {
	_, c := startNode(t)
	sb := c.create(t, nil)
	c.upload(t, sb, "/probe", probe(t), "0755")
	host, _ := os.Hostname()
	got := runProbe(t, c, sb, "sethostname", "evil-sandbox")
	c.sh(t, sb, "hostname evil-sandbox", 10)
	after, _ := os.Hostname()
	attack(t, "host", "hostname", after == host, got, after)
	inside := strings.TrimSpace(c.mustSh(t, sb, "hostname"))
	if inside != "sandbox" && inside != "evil-sandbox" {
		t.Errorf("hostname inside: %q", inside)
	}

	before := time.Now()
	res := c.sh(t, sb, "date -s '2001-02-03 04:05:06'", 10)
	drift := time.Since(before)
	attack(t, "host", "clock (date -s)", time.Now().Year() >= 2024 && drift < 30*time.Second, res, time.Now())
	insideNow := strings.TrimSpace(c.mustSh(t, sb, "date +%Y"))
	if insideNow == "2001" {
		attack(t, "host", "clock inside", false, "the sandbox's clock changed (it is the host's clock)")
	}
}

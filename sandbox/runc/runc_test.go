package runc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostStatusField reads a field of /proc/<pid>/status on the host.
func hostStatusField(t *testing.T, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return ""
}

func TestIsolation(t *testing.T) {
	r := newRunc(t)
	id := testID()
	st := start(t, r, opts(t, r, id))
	if st.Status != "running" || st.Pid <= 0 {
		t.Fatalf("state %+v, want running with a pid", st)
	}

	// Root inside, unprivileged outside.
	if out, _ := execIn(t, r, id, "id", "-u"); strings.TrimSpace(out) != "0" {
		t.Errorf("id -u inside = %q, want 0", out)
	}
	if uid := strings.Fields(hostStatusField(t, st.Pid, "Uid")); uid[0] != "100000" || uid[1] != "100000" {
		t.Errorf("host uid of the container's root = %v, want 100000", uid)
	}
	if nnp := hostStatusField(t, st.Pid, "NoNewPrivs"); nnp != "1" {
		t.Errorf("NoNewPrivs = %s, want 1", nnp)
	}
	if sc := hostStatusField(t, st.Pid, "Seccomp"); sc != "2" {
		t.Errorf("Seccomp = %s, want 2 (filter)", sc)
	}
	// CapEff: exactly our set (CAP_SYS_ADMIN, bit 21, absent).
	capEff, _ := strconv.ParseUint(hostStatusField(t, st.Pid, "CapEff"), 16, 64)
	if capEff&(1<<21) != 0 || capEff&(1<<13) != 0 || capEff&(1<<27) != 0 {
		t.Errorf("CapEff %#x holds SYS_ADMIN, NET_RAW or MKNOD", capEff)
	}

	// Host processes are invisible: only the init and ps itself.
	out, _ := execIn(t, r, id, "ps", "-o", "pid,comm")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(out, "init") {
		t.Errorf("ps inside shows %d lines, want header + init + ps:\n%s", len(lines), out)
	}

	if h, _ := execIn(t, r, id, "hostname"); strings.TrimSpace(h) != id {
		t.Errorf("hostname = %q, want %q", h, id)
	}

	// What must fail inside.
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"mount tmpfs", []string{"mount", "-t", "tmpfs", "none", "/mnt"}},
		{"mount proc", []string{"mount", "-t", "proc", "proc", "/mnt"}},
		{"sysrq", []string{"sh", "-c", "echo h > /proc/sysrq-trigger"}},
		{"proc/sys hostname", []string{"sh", "-c", "echo evil > /proc/sys/kernel/hostname"}},
		{"write /sys", []string{"sh", "-c", "echo 1 > /sys/kernel/profiling"}},
		{"new user namespace", []string{"unshare", "-U", "true"}},
		{"new mount namespace", []string{"unshare", "-m", "true"}},
		{"mknod", []string{"mknod", "/tmp/sda", "b", "8", "0"}},
		{"raw socket ping", []string{"sh", "-c", "ping -c1 -W1 127.0.0.1 2>&1 | grep -q 'permission denied\\|Operation not permitted' && exit 1 || exit 0"}},
		{"chown past the map", []string{"sh", "-c", "touch /tmp/x && chown 70000 /tmp/x"}},
	} {
		if out, code := execIn(t, r, id, c.argv...); code == 0 {
			t.Errorf("%s: %v succeeded inside the container:\n%s", c.name, c.argv, out)
		}
	}
	// And what must work.
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"write rootfs", []string{"sh", "-c", "echo hi > /root/f && cat /root/f"}},
		{"chown to user", []string{"sh", "-c", "touch /tmp/u && chown 1000:1000 /tmp/u"}},
		{"dev null", []string{"sh", "-c", "echo x > /dev/null"}},
		{"dev shm", []string{"sh", "-c", "echo x > /dev/shm/x"}},
		{"read sysfs cpu", []string{"cat", "/sys/devices/system/cpu/online"}},
		{"loopback", []string{"sh", "-c", "ip link show lo | grep -q UP"}},
		{"su to user", []string{"su", "-s", "/bin/sh", "user", "-c", "id -u"}},
	} {
		if out, code := execIn(t, r, id, c.argv...); code != 0 {
			t.Errorf("%s: %v failed (%d) inside the container:\n%s", c.name, c.argv, code, out)
		}
	}
	// /dev holds only the standard nodes.
	out, _ = execIn(t, r, id, "ls", "/dev")
	for _, n := range strings.Fields(out) {
		switch n {
		case "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "mqueue", "fd", "stdin", "stdout", "stderr", "console":
		default:
			t.Errorf("unexpected /dev/%s inside the container", n)
		}
	}
	// The host file created by chown to 1000 is owned by host uid 101000.
	var fst syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/root/tmp/u", st.Pid), &fst); err != nil || fst.Uid != 101000 {
		t.Errorf("file chowned to 1000 inside: host uid %d (%v), want 101000", fst.Uid, err)
	}
}

func TestLifecycleAndErrors(t *testing.T) {
	r := newRunc(t)
	ctx := context.Background()
	id := testID()
	o := opts(t, r, id)
	spec, err := Spec(o)
	if err != nil {
		t.Fatal(err)
	}
	b := bundle(t)
	if err := r.Create(ctx, id, b, spec); err != nil {
		t.Fatal(err)
	}
	st, err := r.State(ctx, id)
	if err != nil || st.Status != "created" || st.Bundle != b {
		t.Fatalf("after create: %+v, %v", st, err)
	}
	if err := r.Create(ctx, id, bundle(t), spec); !errors.Is(err, ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	if err := r.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "init ready", func() bool {
		out, _ := os.ReadFile(filepath.Join(b, "init.log"))
		return strings.Contains(string(out), "ready")
	})
	list, err := r.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].Status != "running" {
		t.Errorf("list = %+v, %v", list, err)
	}
	if err := r.Delete(ctx, id, false); err == nil {
		t.Error("delete of a running container without force succeeded")
	}
	// SIGTERM: the init exits, the container stops, a plain delete works.
	if err := r.Kill(ctx, id, syscall.SIGTERM, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "container to stop", func() bool { s, _ := r.State(ctx, id); return s.Status == "stopped" })
	if err := r.Delete(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	assertGone(t, r, id, st.Pid)

	for name, err := range map[string]error{
		"state": func() error { _, err := r.State(ctx, id); return err }(),
		"start": r.Start(ctx, id), "pause": r.Pause(ctx, id), "kill": r.Kill(ctx, id, syscall.SIGKILL, true),
		"delete": r.Delete(ctx, id, true),
	} {
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), id) {
			t.Errorf("%s of a deleted container: %v, want ErrNotFound naming %s", name, err, id)
		}
	}
	if _, err := r.State(ctx, "../etc"); !errors.Is(err, ErrInvalid) {
		t.Errorf("state of a bad id: %v, want ErrInvalid", err)
	}
	if list, err := r.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("list after delete = %+v, %v", list, err)
	}
}

func TestCreateFailureLeavesNothing(t *testing.T) {
	r := newRunc(t)
	ctx := context.Background()
	id := testID()
	spec, err := Spec(opts(t, r, id))
	if err != nil {
		t.Fatal(err)
	}
	// A mount runc cannot perform fails inside runc's init, after the cgroup exists.
	spec.Mounts = append(spec.Mounts, specsMount("/mnt/bad", "nosuchfs"))
	err = r.Create(ctx, id, bundle(t), spec)
	if err == nil || !errors.Is(err, ErrRuntime) || !strings.Contains(err.Error(), `rootfs at "/mnt/bad"`) {
		t.Fatalf("create with a bad mount: %v, want ErrRuntime carrying runc's message", err)
	}
	t.Log(err)
	if _, err := r.State(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("state after failed create: %v, want ErrNotFound", err)
	}
	assertGone(t, r, id, 0)

	// A cancelled context interrupts runc create: nothing is left either.
	id2 := testID()
	spec2, err := Spec(opts(t, r, id2))
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	err = r.Create(cctx, id2, bundle(t), spec2)
	if err == nil {
		r.Delete(ctx, id2, true)
		t.Skip("runc create finished within 5ms; the cancellation path was not reached")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled create: %v, want context.DeadlineExceeded", err)
	}
	if _, err := r.State(ctx, id2); !errors.Is(err, ErrNotFound) {
		t.Errorf("state after cancelled create: %v, want ErrNotFound", err)
	}
	assertGone(t, r, id2, 0)
}

func TestJoinNetNS(t *testing.T) {
	name := fmt.Sprintf("warren-test-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v: %s", name, err, out)
		}
	})
	path := "/run/netns/" + name
	r := newRunc(t)
	id := testID()
	// runc 1.1 exec cannot join a netns owned by the host's user namespace after
	// joining the container's (it setns()es the user namespace first), so the
	// checks run in the container's own process tree and report through /tmp.
	o := opts(t, r, id, "/bin/sh", "-c", `
		ip link set lo up; echo $? > /tmp/iplink
		echo 1 > /sys/kernel/profiling; echo $? > /tmp/syswrite
		cat /sys/devices/system/cpu/online > /tmp/cpus; echo $? > /tmp/sysread
		echo done > /tmp/done`)
	o.NetNSPath = path
	st := start(t, r, o)
	var want, got syscall.Stat_t
	if err := syscall.Stat(path, &want); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", st.Pid), &got); err != nil {
		t.Fatal(err)
	}
	if got.Ino != want.Ino {
		t.Errorf("container netns inode %d, want %s's %d", got.Ino, path, want.Ino)
	}
	read := func(f string) string {
		b, _ := os.ReadFile(filepath.Join(o.Rootfs, "tmp", f))
		return strings.TrimSpace(string(b))
	}
	waitFor(t, "checks inside the container", func() bool { return read("done") == "done" })
	// The netns belongs to the host's user namespace: not the sandbox's to change.
	if read("iplink") == "0" {
		t.Error("ip link set lo up succeeded inside a joined netns")
	}
	// /sys is the minimal read-only one.
	if read("syswrite") == "0" {
		t.Error("writing /sys succeeded")
	}
	if read("sysread") != "0" || !strings.HasPrefix(read("cpus"), "0") {
		t.Errorf("cat /sys/devices/system/cpu/online: exit %s, %q", read("sysread"), read("cpus"))
	}
}

func TestCleanupStale(t *testing.T) {
	r := newRunc(t)
	ctx := context.Background()
	ids := []string{testID(), testID(), testID()}
	pids := map[string]int{}
	for _, id := range ids {
		pids[id] = start(t, r, opts(t, r, id)).Pid
	}
	if err := r.Pause(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	// A cgroup left by a crash (runc state gone), with a process in it.
	stray := "stray-" + strconv.Itoa(os.Getpid())
	dir := filepath.Join("/sys/fs/cgroup/pids", r.CgroupsPath(stray))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	go sleeper.Wait()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(sleeper.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}

	keep := ids[1]
	if err := r.CleanupStale(ctx, func(id string) bool { return id == keep }); err != nil {
		t.Fatal(err)
	}
	list, err := r.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != keep {
		t.Errorf("after cleanup: %+v, %v; want only %s", list, err, keep)
	}
	for _, id := range []string{ids[0], ids[2], stray} {
		assertGone(t, r, id, pids[id])
	}
	waitFor(t, "stray process to die", func() bool { return !processAlive(sleeper.Process.Pid) })
}

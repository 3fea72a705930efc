package runc

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLimitsInCgroup(t *testing.T) {
	r := newRunc(t)
	id := testID()
	o := opts(t, r, id)
	o.VCPUs, o.MemoryBytes, o.Pids = 0.5, 64<<20, 100
	start(t, r, o)
	for _, c := range []struct{ ctl, file, want string }{
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"memory", "memory.limit_in_bytes", strconv.Itoa(64 << 20)},
		{"memory", "memory.memsw.limit_in_bytes", strconv.Itoa(64 << 20)},
		{"pids", "pids.max", "100"},
	} {
		if got := cgroupFile(t, r, id, c.ctl, c.file); got != c.want {
			t.Errorf("%s/%s = %s, want %s", c.ctl, c.file, got, c.want)
		}
	}
	// Default pids limit.
	id2 := testID()
	start(t, r, opts(t, r, id2))
	if got := cgroupFile(t, r, id2, "pids", "pids.max"); got != strconv.Itoa(DefaultPids) {
		t.Errorf("default pids.max = %s, want %d", got, DefaultPids)
	}
}

func TestMemoryLimitOOMKillsInside(t *testing.T) {
	r := newRunc(t)
	id := testID()
	o := opts(t, r, id)
	o.MemoryBytes = 32 << 20
	st := start(t, r, o)
	// dd fills a 96 MiB buffer: it must be OOM-killed (SIGKILL: 137).
	out, code := execIn(t, r, id, "dd", "if=/dev/zero", "of=/dev/null", "bs=96M", "count=1")
	if code != 137 {
		t.Errorf("allocating 96 MiB under a 32 MiB limit: exit %d, want 137 (OOM kill):\n%s", code, out)
	}
	if oc := cgroupFile(t, r, id, "memory", "memory.oom_control"); !strings.Contains(oc, "oom_kill 1") {
		t.Errorf("memory.oom_control shows no OOM kill:\n%s", oc)
	}
	// The init survived and the container is usable.
	if !processAlive(st.Pid) {
		t.Fatal("container init died with the allocating process")
	}
	if out, code := execIn(t, r, id, "echo", "alive"); code != 0 || strings.TrimSpace(out) != "alive" {
		t.Errorf("after OOM: echo = %q, %d", out, code)
	}
	if s, err := r.State(context.Background(), id); err != nil || s.Status != "running" {
		t.Errorf("after OOM: state %+v, %v; want running", s, err)
	}
}

func TestPidsLimitStopsForkBomb(t *testing.T) {
	r := newRunc(t)
	id := testID()
	o := opts(t, r, id)
	o.Pids = 64
	start(t, r, o)
	// Try to start 200 processes; forks past 64 fail.
	execIn(t, r, id, "sh", "-c", "n=0; while [ $n -lt 200 ]; do sleep 2 & n=$((n+1)); done; wait")
	if ev := cgroupFile(t, r, id, "pids", "pids.events"); ev == "max 0" {
		t.Errorf("pids.events = %q: the limit never refused a fork", ev)
	}
	// The sleeps end; the container is usable again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		cur, _ := strconv.Atoi(cgroupFile(t, r, id, "pids", "pids.current"))
		if cur > 64 {
			t.Fatalf("pids.current = %d past the limit of 64", cur)
		}
		if procs := cgroupPids(filepath.Join("/sys/fs/cgroup/pids", r.CgroupsPath(id))); len(procs) == 1 {
			break // only the init is left
		}
		if time.Now().After(deadline) {
			t.Fatalf("pids.current still %d after the bomb", cur)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, code := execIn(t, r, id, "echo", "ok"); code != 0 || strings.TrimSpace(out) != "ok" {
		t.Errorf("after the fork bomb: echo = %q, %d", out, code)
	}
}

func TestPauseResume(t *testing.T) {
	r := newRunc(t)
	ctx := context.Background()
	id := testID()
	o := opts(t, r, id, "/bin/sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.02; done")
	start(t, r, o)
	counter := func() int {
		b, _ := os.ReadFile(filepath.Join(o.Rootfs, "tmp/counter"))
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	waitFor(t, "counter to start", func() bool { return counter() > 2 })

	if err := r.Pause(ctx, id); err != nil {
		t.Fatal(err)
	}
	if fs := cgroupFile(t, r, id, "freezer", "freezer.state"); fs != "FROZEN" {
		t.Errorf("freezer.state after pause = %s, want FROZEN", fs)
	}
	if st, _ := r.State(ctx, id); st.Status != "paused" {
		t.Errorf("state after pause = %s, want paused", st.Status)
	}
	before := counter()
	time.Sleep(300 * time.Millisecond)
	if after := counter(); after != before {
		t.Errorf("counter moved while paused: %d -> %d", before, after)
	}

	if err := r.Resume(ctx, id); err != nil {
		t.Fatal(err)
	}
	if fs := cgroupFile(t, r, id, "freezer", "freezer.state"); fs != "THAWED" {
		t.Errorf("freezer.state after resume = %s, want THAWED", fs)
	}
	waitFor(t, "counter to continue", func() bool { return counter() > before+2 })

	// Deleting a paused container (force) leaves nothing either.
	if err := r.Pause(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, id, false); err == nil {
		t.Error("delete of a paused container without force succeeded")
	}
	if err := r.Delete(ctx, id, true); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

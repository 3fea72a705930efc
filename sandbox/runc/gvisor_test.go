package runc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newGVisor makes a Runc driving runsc over a fresh state dir. runsc must be
// installed (scripts/deps builds it): a missing one fails the test.
func newGVisor(t testing.TB) *Runc {
	t.Helper()
	if _, err := exec.LookPath("runsc"); err != nil {
		t.Fatalf("gVisor tests need runsc (scripts/deps builds it): %v", err)
	}
	root := filepath.Join(t.TempDir(), "runsc")
	r, err := New(Config{Runtime: RuntimeGVisor, Root: root, CgroupParent: cgroupParent, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	// A container without NetNSPath makes runsc bind an empty netns at
	// <root>/null-netns, shared by its containers; production always joins
	// the sandbox's netns.
	t.Cleanup(func() {
		if err := syscall.Unmount(filepath.Join(root, "null-netns"), 0); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			t.Errorf("unmount null-netns: %v", err)
		}
	})
	return r
}

// gvisorOpts is opts for a gVisor container, with a ctl dir.
func gvisorOpts(t testing.TB, r *Runc, id string, args ...string) SpecOptions {
	o := opts(t, r, id, args...)
	o.Runtime = RuntimeGVisor
	o.CtlDir = t.TempDir()
	return o
}

func TestGVisorRun(t *testing.T) {
	r := newGVisor(t)
	id := testID()
	st := start(t, r, gvisorOpts(t, r, id))
	if st.Status != "running" || st.Pid <= 0 {
		t.Fatalf("state %+v, want running with a pid", st)
	}
	out, code := execIn(t, r, id, "uname", "-r")
	if code != 0 || !isGVisorKernel(out) {
		t.Fatalf("uname -r inside = %q (exit %d), want gVisor's kernel", out, code)
	}
	// The host's kernel is not what the sandbox sees.
	host, err := exec.Command("uname", "-r").Output()
	if err != nil {
		t.Fatal(err)
	}
	if isGVisorKernel(string(host)) {
		t.Fatalf("host uname -r = %q: the positive control is broken", host)
	}
	if out, _ := execIn(t, r, id, "id", "-u"); strings.TrimSpace(out) != "0" {
		t.Errorf("id -u inside = %q, want 0", out)
	}
	if err := r.Pause(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if st, err := r.State(context.Background(), id); err != nil || st.Status != "paused" {
		t.Fatalf("after pause: %+v, %v", st, err)
	}
	if err := r.Resume(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if out, code := execIn(t, r, id, "echo", "back"); code != 0 || strings.TrimSpace(out) != "back" {
		t.Fatalf("exec after resume = %q (exit %d)", out, code)
	}
	// Files handed on are refused: runsc create cannot pass them.
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spec, err := Spec(gvisorOpts(t, r, testID()))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Create(context.Background(), "wt-files", bundle(t), spec, f); err == nil {
		t.Fatal("create with files under gVisor succeeded")
	}
}

// TestGVisorCheckpointRestore checkpoints a container whose shell counts in
// memory and restores it: the count continues from where it was.
func TestGVisorCheckpointRestore(t *testing.T) {
	r := newGVisor(t)
	id := testID()
	o := gvisorOpts(t, r, id, "/bin/sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done")
	spec, err := Spec(o)
	if err != nil {
		t.Fatal(err)
	}
	b := bundle(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.Run(ctx, id, b, spec); err != nil {
		t.Fatal(err)
	}
	st, err := r.State(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Delete(context.Background(), id, true); err != nil && !errors.Is(err, ErrNotFound) {
			t.Errorf("cleanup delete: %v", err)
		}
		assertGone(t, r, id, 0)
	})
	count := func() int {
		t.Helper()
		out, code := execIn(t, r, id, "cat", "/tmp/n")
		n, err := strconv.Atoi(strings.TrimSpace(out))
		if code != 0 || err != nil {
			t.Fatalf("cat /tmp/n = %q (exit %d)", out, code)
		}
		return n
	}
	// Wait until the counter runs (bounded).
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, code := execIn(t, r, id, "cat", "/tmp/n")
		if n, err := strconv.Atoi(strings.TrimSpace(out)); code == 0 && err == nil && n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the counter never started: %q", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := count()
	img := filepath.Join(t.TempDir(), "ckpt")
	if err := r.Checkpoint(ctx, id, img); err != nil {
		t.Fatal(err)
	}
	if pidAlive(st.Pid) {
		t.Fatalf("the sandbox (pid %d) runs on after its checkpoint", st.Pid)
	}
	if err := r.Delete(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(ctx, id, b, img); err != nil {
		t.Fatal(err)
	}
	after := count()
	if after < before {
		t.Fatalf("restored count %d < %d before the checkpoint: memory was not restored", after, before)
	}
	// It keeps counting, from the restored value (a fresh start would be ~1).
	deadline = time.Now().Add(10 * time.Second)
	for count() <= after {
		if time.Now().After(deadline) {
			t.Fatal("the restored counter does not count")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Checkpoint is gVisor's alone.
	if err := newRunc(t).Checkpoint(ctx, id, img); err == nil {
		t.Fatal("runc checkpoint succeeded")
	}
}

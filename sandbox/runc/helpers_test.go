package runc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/warrenhq/warren/sandbox/image"
)

// Shared fixtures built once by TestMain.
var (
	fixDir       string // o+x temp dir holding the fixtures
	fixImage     string // busybox template image (ownership shifted by the default map)
	fixInit      string // static test init binary
	cgroupParent string // cgroup parent used by this test binary alone
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "runc tests need root (runc, loop mounts, cgroups); run them as root")
		return 1
	}
	if _, err := exec.LookPath("runc"); err != nil {
		fmt.Fprintln(os.Stderr, "runc tests need the runc binary (apt-get install runc):", err)
		return 1
	}
	var err error
	fixDir, err = os.MkdirTemp("", "warren-runc-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(fixDir)
	if err := os.Chmod(fixDir, 0o711); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cgroupParent = fmt.Sprintf("/warren-test-%d", os.Getpid())
	defer removeCgroupParent()

	fixImage = filepath.Join(fixDir, "busybox.img")
	if err := image.BuildBusybox(context.Background(), fixImage, 64<<20, image.DefaultIDMap()); err != nil {
		fmt.Fprintln(os.Stderr, "build busybox image:", err)
		return 1
	}
	fixInit = filepath.Join(fixDir, "testinit")
	build := exec.Command("go", "build", "-o", fixInit, "./testdata/testinit")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build testinit: %v: %s\n", err, out)
		return 1
	}
	return m.Run()
}

// removeCgroupParent removes this binary's (by then empty) cgroup parent.
func removeCgroupParent() {
	hs, _ := hierarchies()
	for _, h := range hs {
		_ = syscall.Rmdir(filepath.Join(h, cgroupParent))
	}
}

// testLogger routes slog output through t.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newRunc makes a Runc over a fresh state dir; at cleanup it checks that no
// container of it is left.
func newRunc(t testing.TB) *Runc {
	t.Helper()
	r, err := New(Config{Root: filepath.Join(t.TempDir(), "runc"), CgroupParent: cgroupParent, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rootfs copies the fixture image and loop-mounts it; unmounted at cleanup (the
// loop device goes with it: mount -o loop sets autoclear).
func rootfs(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp(fixDir, "rootfs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	img, mnt := filepath.Join(dir, "disk.img"), filepath.Join(dir, "mnt")
	if out, err := exec.Command("cp", "--sparse=always", fixImage, img).CombinedOutput(); err != nil {
		t.Fatalf("copy image: %v: %s", err, out)
	}
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount -o loop %s: %v: %s", img, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

// bundle makes an empty bundle dir.
func bundle(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp(fixDir, "bundle-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

var idSeq int

// testID returns a container ID unique to this test binary.
func testID() string {
	idSeq++
	return fmt.Sprintf("wt-%d-%d", os.Getpid(), idSeq)
}

// opts returns SpecOptions for a container running the test init with args.
func opts(t testing.TB, r *Runc, id string, args ...string) SpecOptions {
	return SpecOptions{
		ID: id, Rootfs: rootfs(t), Init: fixInit, Args: args,
		CgroupsPath: r.CgroupsPath(id),
	}
}

// start runs a container from o and registers its forced deletion plus a leak
// check (no cgroup dir, no process) at cleanup.
func start(t testing.TB, r *Runc, o SpecOptions) State {
	t.Helper()
	spec, err := Spec(o)
	if err != nil {
		t.Fatal(err)
	}
	return startSpec(t, r, o.ID, spec)
}

func startSpec(t testing.TB, r *Runc, id string, spec *specs.Spec) State {
	t.Helper()
	b := bundle(t)
	if err := r.Run(context.Background(), id, b, spec); err != nil {
		t.Fatal(err)
	}
	st, err := r.State(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.Delete(ctx, id, true); err != nil && !errors.Is(err, ErrNotFound) {
			t.Errorf("cleanup delete %s: %v", id, err)
		}
		assertGone(t, r, id, st.Pid)
	})
	return st
}

// assertGone checks that container id left no cgroup directory and no live process.
func assertGone(t testing.TB, r *Runc, id string, pid int) {
	t.Helper()
	dirs, err := CgroupDirs(r.CgroupsPath(id))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) > 0 {
		t.Errorf("container %s left cgroup dirs %v", id, dirs)
	}
	if pid > 0 && processAlive(pid) {
		t.Errorf("container %s left its init (host pid %d) running", id, pid)
	}
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool { return pidAlive(pid) }

// execIn runs argv inside container id with runc exec (the agent does this in
// production); it returns combined output and the exit code.
func execIn(t testing.TB, r *Runc, id string, argv ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, append(append(r.globalArgs(), "exec", id), argv...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("runc exec %s %v: %v", id, argv, err)
	}
	return out.String(), 0
}

// cgroupFile reads a file of container id's cgroup in a v1 controller.
func cgroupFile(t testing.TB, r *Runc, id, controller, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", controller, r.CgroupsPath(id), file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func specsMount(dst, typ string) specs.Mount {
	return specs.Mount{Destination: dst, Type: typ, Source: "none"}
}

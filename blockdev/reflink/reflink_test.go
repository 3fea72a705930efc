package reflink_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/auto"
	"github.com/warrenhq/warren/blockdev/pooltest"
	"github.com/warrenhq/warren/blockdev/reflink"
)

// openPool opens a reflink pool the way a node on ext4 does: auto with backend
// reflink creates and mounts a sparse XFS pool file in dir.
func openPool(t testing.TB, dir, prefix string) blockdev.Pool {
	t.Helper()
	p, err := auto.Open(context.Background(), auto.Config{
		DataDir: dir, Prefix: prefix, Backend: auto.BackendReflink,
		PoolFileSize: 8 << 30, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("open reflink pool in %s: %v", dir, err)
	}
	if p.Backend() != "reflink" {
		t.Fatalf("backend %q, want reflink", p.Backend())
	}
	return p
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b[:len(b)-1]))
	return len(b), nil
}

func TestConformance(t *testing.T) {
	pooltest.Run(t, func(t *testing.T, dir, prefix string) blockdev.Pool { return openPool(t, dir, prefix) })
}

// TestRestart checks a new process finds snapshots at Open, and CleanupStale
// removes its own stale files but not another prefix's or images.
func TestRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Cleanup(func() { pooltest.AssertNoLeaks(t, dir) })
	p := openPool(t, dir, "r1")
	t.Cleanup(func() { p.Close() })
	src := filepath.Join(t.TempDir(), "base.img")
	pooltest.MakeImage(t, src, 64<<20)
	if _, err := p.ImportImage(ctx, "base", src); err != nil {
		t.Fatal(err)
	}
	s, err := p.CreateSnapshot(ctx, "sb-1", "base", 96<<20)
	if err != nil {
		t.Fatal(err)
	}
	poolDir := filepath.Join(dir, "pool")
	stale := filepath.Join(poolDir, "tmp", "r1-import-deadbeef.img")
	foreign := filepath.Join(poolDir, "tmp", "r2-import-deadbeef.img")
	foreignSnap := filepath.Join(poolDir, "snapshots", "r2-sb-9.img")
	for _, f := range []string{stale, foreign, foreignSnap} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// A second process over the same pool directory.
	q, err := reflink.Open(ctx, reflink.Config{Dir: poolDir, Prefix: "r1", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := q.Snapshots(ctx)
	if err != nil || len(snaps) != 1 || snaps[0] != s {
		t.Fatalf("snapshots found at open: %+v (%v), want [%+v]", snaps, err, s)
	}
	if err := q.RemoveImage(ctx, "base"); err == nil {
		t.Fatal("removed an image with a snapshot found at open")
	}
	if err := q.CleanupStale(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale temporary file %s not removed (%v)", stale, err)
	}
	if l := pooltest.LoopsUnder(t, poolDir); len(l) != 0 {
		t.Fatalf("loop devices left: %v", l)
	}
	for _, f := range []string{foreign, foreignSnap} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("another prefix's file %s: %v", f, err)
		}
	}
	if _, err := q.Image(ctx, "base"); err != nil {
		t.Fatalf("image after cleanup: %v", err)
	}
	// The first pool's view is stale now; clear it so its Close unmounts.
	if err := p.CleanupStale(ctx); err != nil {
		t.Fatal(err)
	}
}

// benchPool opens a reflink pool over a sparse XFS pool file (default size).
func benchPool(b *testing.B) blockdev.Pool {
	dir := b.TempDir()
	b.Cleanup(func() { pooltest.AssertNoLeaks(b, dir) })
	p, err := auto.Open(context.Background(), auto.Config{DataDir: dir, Prefix: "bench", Backend: auto.BackendReflink})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := p.CleanupStale(context.Background()); err != nil {
			b.Error(err)
		}
		if err := p.Close(); err != nil {
			b.Error(err)
		}
	})
	return p
}

func BenchmarkCreateRemove(b *testing.B) { pooltest.BenchCreateRemove(b, benchPool(b)) }

func BenchmarkFlatten(b *testing.B) { pooltest.BenchFlatten(b, benchPool(b), 256<<20) }

func BenchmarkIdleSnapshot(b *testing.B) { pooltest.BenchIdleSnapshot(b, benchPool(b)) }

// TestRemoveMounted: Remove of a mounted snapshot fails with EBUSY after the
// bounded wait and keeps the snapshot; after unmounting, Remove succeeds.
func TestRemoveMounted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Cleanup(func() { pooltest.AssertNoLeaks(t, dir) })
	p := openPool(t, dir, "rm")
	t.Cleanup(func() { p.CleanupStale(ctx); p.Close() })
	src := filepath.Join(t.TempDir(), "base.img")
	pooltest.MakeImage(t, src, 64<<20)
	if _, err := p.ImportImage(ctx, "base", src); err != nil {
		t.Fatal(err)
	}
	s, err := p.CreateSnapshot(ctx, "busy", "base", 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(dir, "mnt")
	pooltest.Mount(t, s.Device, mnt)
	if err := p.Remove(ctx, "busy"); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("remove mounted snapshot: %v, want EBUSY", err)
	}
	if snaps, _ := p.Snapshots(ctx); len(snaps) != 1 {
		t.Fatalf("snapshot dropped by a failed remove: %v", snaps)
	}
	pooltest.CheckKnownFiles(t, mnt)
	pooltest.Unmount(t, mnt)
	if err := p.Remove(ctx, "busy"); err != nil {
		t.Fatalf("remove after unmount: %v", err)
	}
}

// A disk smaller than a grown image starts from the image's compact form and
// grows to exactly the size asked; removing the image removes that form too.
func TestSmallerDiskFromGrownImage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Cleanup(func() { pooltest.AssertNoLeaks(t, dir) })
	p := openPool(t, dir, "c1")
	t.Cleanup(func() { p.Close() })
	src := filepath.Join(t.TempDir(), "base.img")
	pooltest.MakeImage(t, src, 64<<20)
	if _, err := p.ImportImage(ctx, "base", src); err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureImageSizes(ctx, 512<<20); err != nil {
		t.Fatal(err)
	}
	compact := filepath.Join(dir, "pool", "compact", "base.img")
	if _, err := os.Stat(compact); err != nil {
		t.Fatalf("no compact form after growing: %v", err)
	}
	for _, size := range []int64{96 << 20, 64 << 20, 512 << 20} {
		s, err := p.CreateSnapshot(ctx, "sb-small", "base", size)
		if err != nil {
			t.Fatal(err)
		}
		if s.SizeBytes != size {
			t.Errorf("asked %d bytes, got a filesystem of %d", size, s.SizeBytes)
		}
		mnt := filepath.Join(dir, "mnt")
		if err := os.MkdirAll(mnt, 0o755); err != nil {
			t.Fatal(err)
		}
		pooltest.Mount(t, s.Device, mnt)
		pooltest.CheckKnownFiles(t, mnt)
		pooltest.Unmount(t, mnt)
		if err := p.Remove(ctx, "sb-small"); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.RemoveImage(ctx, "base"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(compact); !os.IsNotExist(err) {
		t.Fatalf("compact form left after RemoveImage: %v", err)
	}
}

package auto_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/auto"
	"github.com/warrenhq/warren/blockdev/internal/fsutil"
	"github.com/warrenhq/warren/blockdev/pooltest"
)

func open(t *testing.T, dir, backend string) blockdev.Pool {
	t.Helper()
	p, err := auto.Open(context.Background(), auto.Config{DataDir: dir, Prefix: "at", Backend: backend, PoolFileSize: 2 << 30})
	if err != nil {
		t.Fatalf("open pool in %s: %v", dir, err)
	}
	return p
}

// poolMount returns the filesystem type mounted at dir/pool, or "".
func poolMount(t *testing.T, dir string) string {
	t.Helper()
	mounts, err := fsutil.Mounts()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if m.Point == filepath.Join(dir, "pool") {
			return m.FSType
		}
	}
	return ""
}

func setup(t *testing.T) string {
	if os.Geteuid() != 0 {
		t.Fatal("auto tests need root (loop devices, mounts)")
	}
	dir := t.TempDir()
	t.Cleanup(func() { pooltest.AssertNoLeaks(t, dir) })
	return dir
}

// TestSelectReflinkAndRemount: on this ext4 host auto picks reflink over a
// loop-mounted XFS file, Close unmounts it, and the next Open mounts it again
// with its content.
func TestSelectReflinkAndRemount(t *testing.T) {
	dir := setup(t)
	ctx := context.Background()
	p := open(t, dir, "")
	if p.Backend() != "reflink" {
		t.Fatalf("backend %q, want reflink", p.Backend())
	}
	if fs := poolMount(t, dir); fs != "xfs" {
		t.Fatalf("pool dir mount: %q, want xfs", fs)
	}
	if _, err := os.Stat(filepath.Join(dir, "pool.xfs")); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "base.img")
	pooltest.MakeImage(t, src, 64<<20)
	if _, err := p.ImportImage(ctx, "base", src); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if fs := poolMount(t, dir); fs != "" {
		t.Fatalf("pool still mounted (%s) after Close", fs)
	}
	if l := pooltest.LoopsUnder(t, dir); len(l) != 0 {
		t.Fatalf("loop devices after Close: %v", l)
	}

	p = open(t, dir, auto.BackendReflink)
	defer p.Close()
	if fs := poolMount(t, dir); fs != "xfs" {
		t.Fatalf("pool not re-mounted: %q", fs)
	}
	if _, err := p.Image(ctx, "base"); err != nil {
		t.Fatalf("image after re-mount: %v", err)
	}
}

// TestReuseAfterCrash: a pool dropped without Close leaves its mount; the next
// Open reuses it, cleans the stale snapshot, and its Close unmounts.
func TestReuseAfterCrash(t *testing.T) {
	dir := setup(t)
	ctx := context.Background()
	p := open(t, dir, "")
	src := filepath.Join(t.TempDir(), "base.img")
	pooltest.MakeImage(t, src, 64<<20)
	if _, err := p.ImportImage(ctx, "base", src); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateSnapshot(ctx, "left", "base", 64<<20); err != nil {
		t.Fatal(err)
	}
	// Close with a snapshot attached keeps the pool mounted.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if fs := poolMount(t, dir); fs != "xfs" {
		t.Fatalf("pool unmounted under a live snapshot: %q", fs)
	}

	q := open(t, dir, "")
	if err := q.CleanupStale(ctx); err != nil {
		t.Fatal(err)
	}
	if len(pooltest.LoopsUnder(t, filepath.Join(dir, "pool"))) != 0 {
		t.Fatal("stale snapshot device remains")
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if fs := poolMount(t, dir); fs != "" {
		t.Fatalf("pool still mounted after Close: %q", fs)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := setup(t)
	ctx := context.Background()
	for _, tc := range []struct {
		cfg  auto.Config
		want string
	}{
		{auto.Config{Prefix: "p"}, "data dir"},
		{auto.Config{DataDir: dir, Prefix: "a-b"}, "prefix"},
		{auto.Config{DataDir: dir, Prefix: "p", Backend: "zfs"}, "backend"},
		{auto.Config{DataDir: dir, Prefix: "p", PoolFileSize: 1 << 20}, "pool file size"},
	} {
		_, err := auto.Open(ctx, tc.cfg)
		if !errors.Is(err, blockdev.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("open %+v: %v, want ErrInvalid naming %q", tc.cfg, err, tc.want)
		}
	}
	// No device-mapper in this kernel: asking for dm fails clearly.
	if _, err := os.Stat("/dev/mapper/control"); err != nil {
		_, err := auto.Open(ctx, auto.Config{DataDir: dir, Prefix: "p", Backend: "dm"})
		if err == nil || !strings.Contains(err.Error(), "dm") {
			t.Errorf("open dm without device-mapper: %v", err)
		}
	}
}

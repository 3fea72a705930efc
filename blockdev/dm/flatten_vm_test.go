package dm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/loop"
	"github.com/warrenhq/warren/blockdev/pooltest"
)

// testFlattenMounted flattens a mounted snapshot holding unsynced writes: the
// freeze flushes them into the copy, the filesystem is thawed afterwards, and
// the new image is compact and holds the data.
func testFlattenMounted(t *testing.T) {
	ctx := context.Background()
	p := openPool(t, t.TempDir(), "flat")
	importImage(t, p, "base", 32<<20)
	s, err := p.CreateSnapshot(ctx, "sb", "base", 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	pooltest.Mount(t, s.Device, mnt)
	data := bytes.Repeat([]byte("warren flatten "), 200_000) // 3 MB, not synced
	if err := os.WriteFile(filepath.Join(mnt, "new.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := p.Flatten(ctx, "sb", "flat")
	if err != nil {
		t.Fatalf("flatten: %v", err)
	}
	t.Logf("flattened image: apparent %d, allocated %d", img.ApparentBytes, img.AllocatedBytes)
	if img.ApparentBytes >= s.SizeBytes || img.AllocatedBytes >= img.ApparentBytes {
		t.Errorf("flattened image not compact: apparent %d (snapshot %d), allocated %d", img.ApparentBytes, s.SizeBytes, img.AllocatedBytes)
	}
	if _, err := p.Flatten(ctx, "sb", "flat"); !errors.Is(err, blockdev.ErrExists) {
		t.Errorf("second flatten to the same image: %v, want ErrExists", err)
	}

	// Thawed: a write completes.
	done := make(chan error, 1)
	go func() { done <- os.WriteFile(filepath.Join(mnt, "after"), []byte("x"), 0o644) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("filesystem still frozen after flatten")
	}
	pooltest.Unmount(t, mnt)

	// The image holds the data, read through a loop device of it.
	dev, err := loop.Attach(img.Path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer loop.Detach(dev)
	ro := filepath.Join(t.TempDir(), "ro")
	if err := os.MkdirAll(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dev, ro, "ext4", unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("mount flattened image: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(ro, "new.bin"))
	pooltest.CheckKnownFiles(t, ro)
	if uerr := unix.Unmount(ro, 0); uerr != nil {
		t.Fatal(uerr)
	}
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("flattened image: new.bin: %d bytes, %v; want %d bytes", len(got), err, len(data))
	}
	if err := loop.Detach(dev); err != nil {
		t.Fatal(err)
	}
	mustRemove(t, p, "sb")
	if err := p.RemoveImage(ctx, "flat"); err != nil {
		t.Fatal(err)
	}
}

// testCleanupStale: a pool abandoned with snapshots (one mounted, one grown)
// and a temporary file is cleaned by a new pool on the same dir and prefix;
// another pool's snapshot is left alone.
func testCleanupStale(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := openPool(t, dir, "crash")
	importImage(t, old, "base", 32<<20)
	a, err := old.CreateSnapshot(ctx, "a", "base", 32<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.CreateSnapshot(ctx, "b", "base", 64<<20); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	pooltest.Mount(t, a.Device, mnt)
	if err := os.WriteFile(old.store.TmpPath("flatten"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := openPool(t, t.TempDir(), "keep")
	importImage(t, other, "base", 32<<20)
	k, err := other.CreateSnapshot(ctx, "k", "base", 32<<20)
	if err != nil {
		t.Fatal(err)
	}

	p := openPool(t, dir, "crash")
	if err := p.CleanupStale(ctx); err != nil {
		t.Fatalf("cleanup stale: %v", err)
	}
	if devs := devicesWithPrefix(t, "crash"); len(devs) > 0 {
		t.Errorf("dm devices left: %v", devs)
	}
	pooltest.AssertNoLeaks(t, dir)
	if m := pooltest.MountsUnder(t, mnt); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
	for _, d := range []string{p.cow, p.store.TmpDir()} {
		if entries, _ := os.ReadDir(d); len(entries) > 0 {
			t.Errorf("files left in %s: %v", d, entries)
		}
	}
	if _, err := p.Image(ctx, "base"); err != nil {
		t.Errorf("cleanup removed the image: %v", err)
	}
	if st := status(t, other, "k"); st.Invalid {
		t.Errorf("other pool's snapshot invalid after cleanup")
	}
	if _, err := os.Stat(k.Device); err != nil {
		t.Errorf("other pool's snapshot device: %v", err)
	}
	if _, err := p.CreateSnapshot(ctx, "a", "base", 32<<20); err != nil {
		t.Fatalf("create after cleanup: %v", err)
	}
	mustRemove(t, p, "a")
	mustRemove(t, other, "k")
}

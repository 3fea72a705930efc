package blockdev_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/fsutil"
	"github.com/warrenhq/warren/blockdev/loop"
	"github.com/warrenhq/warren/blockdev/pooltest"
	"golang.org/x/sys/unix"
)

// TestThawMount: a frozen ext4 on a real loop device is thawed (a second
// FITHAW then finds it not frozen); a mount that is not frozen, a directory
// that is not a mount point and a missing path are left alone without error.
func TestThawMount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestThawMount needs root (loop devices, mount)")
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "fs.img")
	pooltest.MakeImage(t, img, 64<<20)
	dev, err := loop.Attach(img, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = loop.Detach(dev) })
	mnt := filepath.Join(dir, "mnt")
	pooltest.Mount(t, dev, mnt)

	if err := blockdev.ThawMount(mnt); err != nil {
		t.Errorf("ThawMount of a mount that is not frozen: %v", err)
	}
	if err := fsutil.Freeze(mnt); err != nil {
		t.Fatalf("FIFREEZE: %v", err)
	}
	if err := blockdev.ThawMount(mnt); err != nil {
		t.Fatalf("ThawMount of a frozen mount: %v", err)
	}
	if err := fsutil.Thaw(mnt); !errors.Is(err, unix.EINVAL) {
		t.Errorf("FITHAW after ThawMount = %v, want EINVAL (not frozen)", err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "after"), []byte("x"), 0o644); err != nil {
		t.Errorf("writing after the thaw: %v", err)
	}

	// A plain directory: its filesystem (the test's temp dir's) is never
	// thawed, even when it is a subdirectory of a frozen mount's parent.
	plain := filepath.Join(dir, "plain")
	if err := os.Mkdir(plain, 0o755); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(mnt, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fsutil.Freeze(mnt); err != nil {
		t.Fatalf("FIFREEZE: %v", err)
	}
	for _, d := range []string{plain, sub, filepath.Join(dir, "missing")} {
		if err := blockdev.ThawMount(d); err != nil {
			t.Errorf("ThawMount(%s): %v", d, err)
		}
	}
	if err := fsutil.Thaw(mnt); err != nil {
		t.Errorf("ThawMount of a directory inside the frozen mount thawed it (FITHAW: %v)", err)
	}
	pooltest.Unmount(t, mnt)
}

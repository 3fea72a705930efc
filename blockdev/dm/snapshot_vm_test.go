package dm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/pooltest"
)

// testSharedOrigin: N snapshots of one image, made concurrently and of
// different sizes (equal, grown through an @ext device, shrunk), share one
// read-only loop device of the image, detached when the last one goes.
func testSharedOrigin(t *testing.T) {
	ctx := context.Background()
	p := openPool(t, t.TempDir(), "so")
	importImage(t, p, "base", 64<<20)
	sizes := []int64{64 << 20, 96 << 20, 48 << 20, 64 << 20}
	var wg sync.WaitGroup
	errs := make([]error, len(sizes))
	for i, size := range sizes {
		wg.Go(func() {
			_, errs[i] = p.CreateSnapshot(ctx, fmt.Sprintf("sb-%d", i), "base", size)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	img := p.store.Path("base")
	if loops := pooltest.LoopsUnder(t, p.store.Dir()); len(loops) != 1 || loops[0].BackingFile != img {
		t.Fatalf("loop devices of the image: %v, want exactly one of %s", loops, img)
	}
	if refs := p.origins.Refs()[img]; refs != len(sizes) {
		t.Fatalf("origin refs %d, want %d", refs, len(sizes))
	}
	snaps, err := p.Snapshots(ctx)
	if err != nil || len(snaps) != len(sizes) {
		t.Fatalf("snapshots %v, %v", snaps, err)
	}
	for i, s := range snaps {
		if s.SizeBytes != sizes[i] || fsSize(t, s.Device) != sizes[i] {
			t.Errorf("snapshot %s: size %d, filesystem %d, want %d", s.Name, s.SizeBytes, fsSize(t, s.Device), sizes[i])
		}
		mnt := filepath.Join(t.TempDir(), "mnt")
		pooltest.Mount(t, s.Device, mnt)
		pooltest.CheckKnownFiles(t, mnt)
		pooltest.Unmount(t, mnt)
	}
	if _, err := os.Stat(nodePath(p.extName("sb-1"))); err != nil {
		t.Errorf("grown snapshot has no @ext device: %v", err)
	}
	for i := range sizes[1:] {
		mustRemove(t, p, fmt.Sprintf("sb-%d", i))
	}
	if loops := pooltest.LoopsUnder(t, p.store.Dir()); len(loops) != 1 {
		t.Fatalf("after removing all but one snapshot: image loop devices %v, want 1", loops)
	}
	mustRemove(t, p, fmt.Sprintf("sb-%d", len(sizes)-1))
	if loops := pooltest.LoopsUnder(t, p.store.Dir()); len(loops) != 0 {
		t.Fatalf("after removing every snapshot: image loop devices %v, want none", loops)
	}
	if refs := p.origins.Refs(); len(refs) != 0 {
		t.Fatalf("origin refs after removing every snapshot: %v", refs)
	}
}

// testFillToENOSPC fills a grown snapshot's filesystem: writes end in ENOSPC,
// the snapshot target stays valid, the filesystem checks clean, and a sibling
// snapshot of the same image is untouched.
func testFillToENOSPC(t *testing.T) {
	ctx := context.Background()
	p := openPool(t, t.TempDir(), "fill")
	importImage(t, p, "base", 32<<20)
	full, err := p.CreateSnapshot(ctx, "full", "base", 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	other, err := p.CreateSnapshot(ctx, "other", "base", 32<<20)
	if err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	pooltest.Mount(t, full.Device, mnt)
	f, err := os.Create(filepath.Join(mnt, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i*7 + 1)
	}
	var written int64
	for {
		n, err := f.Write(block)
		written += int64(n)
		if errors.Is(err, unix.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: write: %v (want ENOSPC)", written, err)
		}
		if written > full.SizeBytes {
			t.Fatalf("wrote %d bytes into a %d-byte filesystem without ENOSPC", written, full.SizeBytes)
		}
	}
	if err := f.Sync(); err != nil && !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("fsync after ENOSPC: %v", err)
	}
	f.Close()
	pooltest.Unmount(t, mnt)
	st := status(t, p, "full")
	if st.Invalid {
		t.Fatalf("snapshot invalidated by a full filesystem")
	}
	t.Logf("wrote %d bytes before ENOSPC; CoW %d/%d sectors, metadata %d", written, st.Allocated, st.Total, st.Metadata)
	if written < 40<<20 {
		t.Errorf("only %d bytes fit in a 64 MiB filesystem", written)
	}
	if out, err := runTool(ctx, "e2fsck", "-f", "-n", full.Device); err != nil {
		t.Fatalf("filesystem after ENOSPC: %v\n%s", err, out)
	}
	pooltest.Mount(t, other.Device, mnt)
	pooltest.CheckKnownFiles(t, mnt)
	if _, err := os.Stat(filepath.Join(mnt, "fill")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sibling snapshot sees the other's file: %v", err)
	}
	pooltest.Unmount(t, mnt)
	mustRemove(t, p, "full")
	mustRemove(t, p, "other")
}

// testCreateFailureLeavesNothing: a create that fails after the devices exist
// (resize2fs cannot shrink below the data) removes them all and releases the
// image; the name can then be used.
func testCreateFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	p := openPool(t, t.TempDir(), "fail")
	importImage(t, p, "base", 64<<20)
	_, err := p.CreateSnapshot(ctx, "sb", "base", 1<<20)
	if err == nil {
		t.Fatal("shrinking a 64 MiB image to 1 MiB succeeded")
	}
	t.Logf("expected failure: %v", err)
	if devs := devicesWithPrefix(t, "fail"); len(devs) > 0 {
		t.Errorf("dm devices left: %v", devs)
	}
	if loops := pooltest.LoopsUnder(t, p.Dir()); len(loops) > 0 {
		t.Errorf("loop devices left: %v", loops)
	}
	if refs := p.origins.Refs(); len(refs) > 0 {
		t.Errorf("origin refs left: %v", refs)
	}
	if entries, _ := os.ReadDir(p.cow); len(entries) > 0 {
		t.Errorf("cow files left: %v", entries)
	}
	if _, err := os.Stat(nodePath(p.devName("sb"))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("device node left: %v", err)
	}
	if err := p.Remove(ctx, "sb"); !errors.Is(err, blockdev.ErrNotFound) {
		t.Errorf("remove after failed create: %v, want ErrNotFound", err)
	}
	if _, err := p.CreateSnapshot(ctx, "sb", "base", 64<<20); err != nil {
		t.Fatalf("create after a failed create: %v", err)
	}
	mustRemove(t, p, "sb")
}

// testRemoveBusy: Remove of a mounted snapshot fails and keeps it; after the
// unmount a second Remove finishes.
func testRemoveBusy(t *testing.T) {
	ctx := context.Background()
	p := openPool(t, t.TempDir(), "busy")
	importImage(t, p, "base", 32<<20)
	s, err := p.CreateSnapshot(ctx, "sb", "base", 32<<20)
	if err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	pooltest.Mount(t, s.Device, mnt)
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	err = p.Remove(short, "sb")
	cancel()
	if !errors.Is(err, unix.EBUSY) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("remove of a mounted snapshot: %v, want busy", err)
	}
	if snaps, _ := p.Snapshots(ctx); len(snaps) != 1 {
		t.Fatalf("snapshot dropped by a failed remove: %v", snaps)
	}
	pooltest.CheckKnownFiles(t, mnt)
	pooltest.Unmount(t, mnt)
	mustRemove(t, p, "sb")
}

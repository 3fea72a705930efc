package pooltest

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/ext4"
)

// testFlattenRoundTrip flattens a mounted, written snapshot into an image and
// starts a snapshot from it.
func testFlattenRoundTrip(h *harness) {
	h.importImage("base", imageSize)
	s := h.create("work", "base", 256*mib)
	mnt := h.mount(s)
	writeRandom(h, filepath.Join(mnt, "data.bin"), 8*mib)
	sum := SHA256File(h.t, filepath.Join(mnt, "data.bin"))
	if err := os.WriteFile(filepath.Join(mnt, "flat.txt"), []byte("flattened\n"), 0o644); err != nil {
		h.t.Fatal(err)
	}
	// Flatten while mounted: the pool must quiesce the filesystem.
	img, err := h.pool.Flatten(h.ctx, s.Name, "flat")
	if err != nil {
		h.t.Fatalf("flatten: %v", err)
	}
	if img.Name != "flat" || img.AllocatedBytes <= 0 || img.AllocatedBytes >= img.ApparentBytes {
		h.t.Fatalf("flattened image %+v: want 0 < allocated < apparent", img)
	}
	if img.ApparentBytes >= s.SizeBytes {
		h.t.Fatalf("flattened image is %d bytes, not shrunk below the snapshot's %d", img.ApparentBytes, s.SizeBytes)
	}
	// The snapshot is left as it was, and thawed.
	if err := os.WriteFile(filepath.Join(mnt, "after.txt"), []byte("still writable\n"), 0o644); err != nil {
		h.t.Fatalf("write after flatten: %v", err)
	}
	_, err = h.pool.Flatten(h.ctx, s.Name, "flat")
	h.wantErr("flatten to an existing image", err, blockdev.ErrExists, "flat")
	Unmount(h.t, mnt)

	s2 := h.create("from-flat", "flat", 128*mib)
	m2 := h.mount(s2)
	CheckKnownFiles(h.t, m2)
	if got := SHA256File(h.t, filepath.Join(m2, "data.bin")); got != sum {
		h.t.Fatalf("flattened data.bin: sha256 %s, want %s", got, sum)
	}
	if b, err := os.ReadFile(filepath.Join(m2, "flat.txt")); err != nil || string(b) != "flattened\n" {
		h.t.Fatalf("flattened flat.txt: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(m2, "after.txt")); !os.IsNotExist(err) {
		h.t.Fatalf("after.txt, written after the flatten, is in the image (%v)", err)
	}
	Unmount(h.t, m2)
	h.remove(s2.Name)
	h.remove(s.Name)
	if err := h.pool.RemoveImage(h.ctx, "flat"); err != nil {
		h.t.Fatal(err)
	}
	h.assertLoopsReleased()
}

// testEnsureImageSizes grows images sparsely and idempotently.
func testEnsureImageSizes(h *harness) {
	small := h.importImage("small", 64*mib)
	big := h.importImage("big", 640*mib)
	const min = 512 * mib
	h.wantErr("ensure 0", h.pool.EnsureImageSizes(h.ctx, 0), blockdev.ErrInvalid, "minBytes")
	if err := h.pool.EnsureImageSizes(h.ctx, min); err != nil {
		h.t.Fatalf("ensure image sizes: %v", err)
	}
	grown, err := h.pool.Image(h.ctx, "small")
	if err != nil {
		h.t.Fatal(err)
	}
	sb, err := ext4.ReadSuperblock(grown.Path)
	if err != nil {
		h.t.Fatal(err)
	}
	if grown.ApparentBytes != min || sb.Bytes() != min {
		h.t.Fatalf("grown image: apparent %d, filesystem %d, want %d", grown.ApparentBytes, sb.Bytes(), min)
	}
	// Sparse: growing by 448 MiB adds only new group metadata.
	if added := grown.AllocatedBytes - small.AllocatedBytes; added > 4*mib {
		h.t.Fatalf("growing allocated %d bytes (%d -> %d), want sparse (<= 4 MiB)", added, small.AllocatedBytes, grown.AllocatedBytes)
	}
	if err := h.pool.EnsureImageSizes(h.ctx, min); err != nil {
		h.t.Fatalf("ensure image sizes again: %v", err)
	}
	again, _ := h.pool.Image(h.ctx, "small")
	if again != grown {
		h.t.Fatalf("second ensure changed the image: %+v -> %+v", grown, again)
	}
	if b, _ := h.pool.Image(h.ctx, "big"); b.ApparentBytes != big.ApparentBytes {
		h.t.Fatalf("image above the minimum changed: %+v -> %+v", big, b)
	}
	s := h.create("grown", "small", min)
	CheckKnownFiles(h.t, h.mount(s))
	Unmount(h.t, filepath.Join(h.dir, "mnt", s.Name))
	h.remove(s.Name)
}

// testCrashCleanup drops a pool with snapshots left (a crash), then a new pool's
// CleanupStale removes them.
func testCrashCleanup(h *harness) {
	h.importImage("base", imageSize)
	for i := 0; i < 3; i++ {
		h.create(name("crash", i), "base", imageSize+int64(i)*64*mib)
	}
	// Crash: no Remove, no Close. A new pool over the same directory cleans up.
	h.dropped[h.pool] = true
	h.pool = h.openPool()
	if err := h.pool.CleanupStale(h.ctx); err != nil {
		h.t.Fatalf("cleanup stale: %v", err)
	}
	h.loops = h.loopSet() // the new pool's own devices, if any
	if snaps, err := h.pool.Snapshots(h.ctx); err != nil || len(snaps) != 0 {
		h.t.Fatalf("snapshots after cleanup: %v, %v", snaps, err)
	}
	for _, d := range LoopsUnder(h.t, h.dir) {
		if strings.Contains(d.BackingFile, "crash") {
			h.t.Fatalf("loop device %s of a crashed snapshot remains (%s)", d.Path, d.BackingFile)
		}
	}
	// The names are free again, the image is intact and removable afterwards.
	for i := 0; i < 3; i++ {
		s := h.create(name("crash", i), "base", imageSize)
		if i == 0 {
			CheckKnownFiles(h.t, h.mount(s))
			Unmount(h.t, filepath.Join(h.dir, "mnt", s.Name))
		}
		h.remove(s.Name)
	}
	if err := h.pool.RemoveImage(h.ctx, "base"); err != nil {
		h.t.Fatal(err)
	}
}

// testImages imports, lists and removes images.
func testImages(h *harness) {
	a := h.importImage("img-a", 64*mib)
	h.importImage("img-b", 64*mib)
	if a.Name != "img-a" || a.ApparentBytes != 64*mib || a.AllocatedBytes <= 0 || a.AllocatedBytes >= a.ApparentBytes {
		h.t.Fatalf("imported image: %+v", a)
	}
	_, err := h.pool.ImportImage(h.ctx, "img-a", filepath.Join(h.work, "img-a.src.img"))
	h.wantErr("import existing", err, blockdev.ErrExists, "img-a")
	notExt4 := filepath.Join(h.work, "junk.img")
	if err := os.WriteFile(notExt4, make([]byte, 1<<20), 0o644); err != nil {
		h.t.Fatal(err)
	}
	_, err = h.pool.ImportImage(h.ctx, "junk", notExt4)
	h.wantErr("import non-ext4", err, blockdev.ErrInvalid, "junk")
	_, err = h.pool.ImportImage(h.ctx, "gone", filepath.Join(h.work, "missing.img"))
	h.wantErr("import missing src", err, blockdev.ErrNotFound, "src")
	imgs, err := h.pool.Images(h.ctx)
	if err != nil || len(imgs) != 2 || imgs[0].Name != "img-a" || imgs[1].Name != "img-b" {
		h.t.Fatalf("images: %+v, %v", imgs, err)
	}
	for _, n := range []string{"img-a", "img-b"} {
		if err := h.pool.RemoveImage(h.ctx, n); err != nil {
			h.t.Fatal(err)
		}
	}
	if imgs, _ := h.pool.Images(h.ctx); len(imgs) != 0 {
		h.t.Fatalf("images after removes: %+v", imgs)
	}
}

// testNameValidation checks bad names fail with ErrInvalid naming the argument.
func testNameValidation(h *harness) {
	h.importImage("base", 64*mib)
	bad := []string{"", "a/b", "..", "a..b", ".", strings.Repeat("x", 129), "sp ace", "ü", "a\x00b"}
	for _, n := range bad {
		_, err := h.pool.CreateSnapshot(h.ctx, n, "base", 64*mib)
		h.wantErr("create name "+n, err, blockdev.ErrInvalid, "name")
		_, err = h.pool.CreateSnapshot(h.ctx, "ok", n, 64*mib)
		h.wantErr("create origin "+n, err, blockdev.ErrInvalid, "origin")
		_, err = h.pool.ImportImage(h.ctx, n, filepath.Join(h.work, "base.src.img"))
		h.wantErr("import "+n, err, blockdev.ErrInvalid, "name")
		_, err = h.pool.Flatten(h.ctx, "ok", n)
		h.wantErr("flatten dst "+n, err, blockdev.ErrInvalid, "dst")
		h.wantErr("remove "+n, h.pool.Remove(h.ctx, n), blockdev.ErrInvalid, "name")
		h.wantErr("remove image "+n, h.pool.RemoveImage(h.ctx, n), blockdev.ErrInvalid, "name")
		_, err = h.pool.Image(h.ctx, n)
		h.wantErr("image "+n, err, blockdev.ErrInvalid, "name")
	}
	_, err := h.pool.CreateSnapshot(h.ctx, "ok", "base", 0)
	h.wantErr("create size 0", err, blockdev.ErrInvalid, "sizeBytes")
	_, err = h.pool.CreateSnapshot(h.ctx, "ok", "base", -4096)
	h.wantErr("create size -4096", err, blockdev.ErrInvalid, "sizeBytes")
	ok := strings.Repeat("a", 128)
	h.remove(h.create(ok, "base", 64*mib).Name)
	if snaps, _ := h.pool.Snapshots(h.ctx); len(snaps) != 0 {
		h.t.Fatalf("snapshots left by invalid creates: %+v", snaps)
	}
}

// testNotFound checks operations on unknown names fail with ErrNotFound and
// leave nothing behind.
func testNotFound(h *harness) {
	h.wantErr("remove unknown", h.pool.Remove(h.ctx, "nope"), blockdev.ErrNotFound, "nope")
	_, err := h.pool.Image(h.ctx, "nope")
	h.wantErr("image unknown", err, blockdev.ErrNotFound, "nope")
	h.wantErr("remove unknown image", h.pool.RemoveImage(h.ctx, "nope"), blockdev.ErrNotFound, "nope")
	_, err = h.pool.Flatten(h.ctx, "nope", "dst")
	h.wantErr("flatten unknown", err, blockdev.ErrNotFound, "nope")
	_, err = h.pool.CreateSnapshot(h.ctx, "s", "nope", 64*mib)
	h.wantErr("create from unknown image", err, blockdev.ErrNotFound, "nope")
	if snaps, _ := h.pool.Snapshots(h.ctx); len(snaps) != 0 {
		h.t.Fatalf("snapshots after failed create: %+v", snaps)
	}
	h.assertLoopsReleased()
	// The name is free after the failed create.
	h.importImage("base", 64*mib)
	h.remove(h.create("s", "base", 64*mib).Name)
	h.wantErr("remove twice", h.pool.Remove(h.ctx, "s"), blockdev.ErrNotFound, "s")
}

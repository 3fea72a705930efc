package pooltest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev/internal/ext4"
)

// testWriteIsolation writes through a snapshot and checks the origin image and
// a sibling snapshot do not change.
func testWriteIsolation(h *harness) {
	img := h.importImage("base", imageSize)
	before := SHA256File(h.t, img.Path)

	a := h.create("iso-a", "base", imageSize)
	mnt := h.mount(a)
	CheckKnownFiles(h.t, mnt)
	writeRandom(h, filepath.Join(mnt, "new.bin"), 8*mib)
	if err := os.WriteFile(filepath.Join(mnt, "hello.txt"), []byte("changed\n"), 0o644); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(mnt, "etc/hostname")); err != nil {
		h.t.Fatal(err)
	}
	Unmount(h.t, mnt)

	img2, err := h.pool.Image(h.ctx, "base")
	if err != nil {
		h.t.Fatal(err)
	}
	if after := SHA256File(h.t, img2.Path); after != before {
		h.t.Fatalf("origin image changed by writes through a snapshot: sha256 %s -> %s", before, after)
	}
	b := h.create("iso-b", "base", imageSize)
	CheckKnownFiles(h.t, h.mount(b))
	Unmount(h.t, filepath.Join(h.dir, "mnt", b.Name))
	h.remove(a.Name)
	h.remove(b.Name)
}

// testExactSize checks the filesystem of a snapshot has exactly the requested
// size (rounded down to 4 KiB), smaller and bigger than the image.
func testExactSize(h *harness) {
	h.importImage("base", imageSize)
	for i, size := range []int64{64 * mib, imageSize, 200*mib + 5000, 384 * mib} {
		s := h.create(name("size", i), "base", size)
		want := size / 4096 * 4096
		if s.SizeBytes != want {
			h.t.Fatalf("snapshot of %d bytes: SizeBytes %d, want %d", size, s.SizeBytes, want)
		}
		sb, err := ext4.ReadSuperblock(s.Device)
		if err != nil {
			h.t.Fatal(err)
		}
		if sb.Bytes() != want {
			h.t.Fatalf("snapshot of %d bytes: superblock says %d blocks of %d, want %d bytes", size, sb.Blocks, sb.BlockSize, want)
		}
		mnt := h.mount(s)
		var st unix.Statfs_t
		if err := unix.Statfs(mnt, &st); err != nil {
			h.t.Fatal(err)
		}
		// statfs reports blocks minus ext4's own overhead: the journal and inode
		// tables (24 MiB for an image of 128 MiB) and group metadata.
		total := int64(st.Blocks) * st.Bsize
		if total > want || want-total > 32*mib+want/10 {
			h.t.Fatalf("snapshot of %d bytes: statfs total %d, want within ext4 overhead of %d", size, total, want)
		}
		CheckKnownFiles(h.t, mnt)
		Unmount(h.t, mnt)
		h.remove(s.Name)
	}
	h.assertLoopsReleased()
}

// testENOSPC fills a small snapshot: the write fails with ENOSPC (not EIO) and a
// sibling snapshot's data survives.
func testENOSPC(h *harness) {
	h.importImage("base", imageSize)
	a := h.create("full", "base", 64*mib)
	b := h.create("sibling", "base", 64*mib)
	mb := h.mount(b)
	writeRandom(h, filepath.Join(mb, "keep.bin"), 4*mib)
	sum := SHA256File(h.t, filepath.Join(mb, "keep.bin"))

	ma := h.mount(a)
	f, err := os.Create(filepath.Join(ma, "fill.bin"))
	if err != nil {
		h.t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{0xa5}, int(mib))
	var written int64
	for {
		n, err := f.Write(chunk)
		written += int64(n)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				h.t.Fatalf("filling a 64 MiB snapshot: %v after %d bytes, want ENOSPC", err, written)
			}
			break
		}
		if written > 128*mib {
			h.t.Fatalf("wrote %d bytes into a 64 MiB snapshot without ENOSPC", written)
		}
	}
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		h.t.Fatalf("fsync of the full snapshot: %v, want success or ENOSPC", err)
	}
	f.Close()
	// The full filesystem still works: delete and write again.
	if err := os.Remove(filepath.Join(ma, "fill.bin")); err != nil {
		h.t.Fatal(err)
	}
	writeRandom(h, filepath.Join(ma, "again.bin"), mib)
	Unmount(h.t, ma)
	Unmount(h.t, mb)

	mb = h.mount(b)
	if got := SHA256File(h.t, filepath.Join(mb, "keep.bin")); got != sum {
		h.t.Fatalf("sibling snapshot's file changed: sha256 %s -> %s", sum, got)
	}
	CheckKnownFiles(h.t, mb)
	Unmount(h.t, mb)
	h.remove(a.Name)
	h.remove(b.Name)
}

// writeRandom writes size random bytes to path and syncs it.
func writeRandom(h *harness, path string, size int64) {
	h.t.Helper()
	buf := make([]byte, size)
	rand.Read(buf)
	f, err := os.Create(path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(buf); err != nil {
		h.t.Fatalf("write %s: %v", path, err)
	}
	if err := f.Sync(); err != nil {
		h.t.Fatalf("sync %s: %v", path, err)
	}
}

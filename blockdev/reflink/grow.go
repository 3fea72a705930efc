package reflink

import (
	"context"
	"fmt"
	"os"

	"github.com/warrenhq/warren/blockdev/internal/ext4"
	"github.com/warrenhq/warren/blockdev/internal/fsutil"
)

// EnsureImageSizes grows every stored image whose filesystem is smaller than
// minBytes (rounded down to 4 KiB) to that size. Each grow works on a reflink
// clone (e2fsck -f -y, extend, resize2fs) renamed over the image, so a
// concurrent CreateSnapshot clones either the old or the new image, and a crash
// leaves the old one. Growing allocates only the new metadata blocks.
func (p *Pool) EnsureImageSizes(ctx context.Context, minBytes int64) error {
	return p.store.EnsureSizes(ctx, minBytes, p.grow)
}

// grow grows image name to size bytes (see EnsureImageSizes). Snapshots of
// the image may exist meanwhile: they are clones of the file grow replaces.
func (p *Pool) grow(ctx context.Context, name string, size int64) error {
	release, ok, err := p.store.ClaimGrow(name, false)
	if !ok {
		return err
	}
	defer release()

	path := p.store.Path(name)
	info, err := ext4.ReadSuperblock(path)
	if err != nil {
		return fmt.Errorf("grow image %s: %w", name, err)
	}
	if info.Bytes() >= size {
		return nil
	}
	tmp := p.store.TmpPath("grow")
	if err := fsutil.Clone(tmp, path); err != nil {
		return fmt.Errorf("grow image %s: %w", name, err)
	}
	defer os.Remove(tmp) // a no-op once renamed
	if err := ext4.Fsck(ctx, tmp); err != nil {
		return fmt.Errorf("grow image %s: %w", name, err)
	}
	if err := ext4.Resize(ctx, tmp, size); err != nil {
		return fmt.Errorf("grow image %s: %w", name, err)
	}
	// Keep the form from before the grow for smaller disks (a clone: free).
	// Best effort: without it those disks shrink the grown image instead.
	compact := p.store.CompactPath(name)
	_ = os.Remove(compact)
	if err := fsutil.Clone(compact, path); err != nil {
		p.log.Warn("keeping the compact form of an image", "image", name, "err", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("grow image %s: %w", name, err)
	}
	p.log.Info("image grown", "image", name, "from", info.Bytes(), "to", size)
	return nil
}

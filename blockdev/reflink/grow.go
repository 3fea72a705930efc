package reflink

import (
	"context"
	"fmt"
	"os"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/ext4"
	"github.com/warrenhq/warren/blockdev/internal/fsutil"
)

// EnsureImageSizes grows every stored image whose filesystem is smaller than
// minBytes (rounded down to 4 KiB) to that size. Each grow works on a reflink
// clone (e2fsck -f -y, extend, resize2fs) renamed over the image, so a
// concurrent CreateSnapshot clones either the old or the new image, and a crash
// leaves the old one. Growing allocates only the new metadata blocks.
func (p *Pool) EnsureImageSizes(ctx context.Context, minBytes int64) error {
	size := minBytes / ext4.BlockSize * ext4.BlockSize
	if size <= 0 {
		return fmt.Errorf("ensure image sizes: minBytes %d: below one block: %w", minBytes, blockdev.ErrInvalid)
	}
	images, err := p.Images(ctx)
	if err != nil {
		return fmt.Errorf("ensure image sizes: %w", err)
	}
	for _, img := range images {
		if err := ctxErr(ctx, "ensure image sizes"); err != nil {
			return err
		}
		if err := p.grow(ctx, img.Name, size); err != nil {
			return fmt.Errorf("ensure image sizes: %w", err)
		}
	}
	return nil
}

func (p *Pool) grow(ctx context.Context, name string, size int64) error {
	p.mu.Lock()
	if busy := p.imgBusy[name]; busy != "" {
		p.mu.Unlock()
		if busy == "remove" {
			return nil
		}
		return fmt.Errorf("grow image %s: %s in progress: %w", name, busy, blockdev.ErrUnavailable)
	}
	p.imgBusy[name] = "grow"
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.imgBusy, name)
		p.mu.Unlock()
	}()

	path := p.imagePath(name)
	info, err := ext4.ReadSuperblock(path)
	if err != nil {
		return fmt.Errorf("grow image %s: %w", name, err)
	}
	if info.Bytes() >= size {
		return nil
	}
	tmp := p.tmpPath("grow")
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
	compact := p.compactPath(name)
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

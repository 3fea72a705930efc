package dm

import (
	"context"
	"fmt"
	"os"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/ext4"
)

// EnsureImageSizes grows every stored image whose filesystem is smaller than
// minBytes (rounded down to 4 KiB) to that size, in place and offline (e2fsck
// -f -y, extend the file sparsely, resize2fs): only new metadata blocks are
// allocated. An image is grown only while no snapshot of it exists — its loop
// device is the snapshots' origin — so an image with snapshots fails with
// ErrInvalid; call EnsureImageSizes at start, after CleanupStale. A failed grow
// truncates the file back.
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
	path := p.imagePath(name)
	info, err := ext4.ReadSuperblock(path)
	if err != nil {
		return fmt.Errorf("grow image %s: %w", name, err)
	}
	if info.Bytes() >= size {
		return nil
	}
	p.mu.Lock()
	if busy := p.imgBusy[name]; busy != "" {
		p.mu.Unlock()
		if busy == "remove" {
			return nil
		}
		return fmt.Errorf("grow image %s: %s in progress: %w", name, busy, blockdev.ErrUnavailable)
	}
	if n := p.originRefs[name]; n > 0 {
		p.mu.Unlock()
		return fmt.Errorf("grow image %s: %d snapshots of it exist (grow images at start): %w", name, n, blockdev.ErrInvalid)
	}
	p.imgBusy[name] = "grow"
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.imgBusy, name)
		p.mu.Unlock()
	}()

	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("grow image %s: %w", name, err)
	}
	if err := ext4.Fsck(ctx, path); err != nil {
		return fmt.Errorf("grow image %s: %w", name, err)
	}
	if err := ext4.Resize(ctx, path, size); err != nil {
		if terr := os.Truncate(path, st.Size()); terr != nil {
			p.log.Error("grow image: truncate back", "image", name, "err", terr)
		}
		return fmt.Errorf("grow image %s: %w", name, err)
	}
	p.log.Info("image grown", "image", name, "from", info.Bytes(), "to", size)
	return nil
}

package dm

import (
	"context"
	"fmt"
	"os"

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
	return p.store.EnsureSizes(ctx, minBytes, p.grow)
}

// grow grows image name in place to size bytes (see EnsureImageSizes). An
// image already that large is left alone, snapshots of it or not.
func (p *Pool) grow(ctx context.Context, name string, size int64) error {
	path := p.store.Path(name)
	info, err := ext4.ReadSuperblock(path)
	if err != nil {
		return fmt.Errorf("grow image %s: %w", name, err)
	}
	if info.Bytes() >= size {
		return nil
	}
	release, ok, err := p.store.ClaimGrow(name, true)
	if !ok {
		return err
	}
	defer release()

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

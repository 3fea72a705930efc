package reflink

import (
	"context"

	"github.com/warrenhq/warren/blockdev"
)

// The image methods are the image store's (blockdev/internal/imagestore),
// whose state p.mu guards.

// ImportImage copies src (reflinks when it is on the pool's filesystem) to a
// temporary file, checks it is ext4 and runs e2fsck -f -y on the copy, then moves
// it into place as image name.
func (p *Pool) ImportImage(ctx context.Context, name, src string) (blockdev.ImageInfo, error) {
	return p.store.ImportImage(ctx, name, src)
}

// Image describes stored image name.
func (p *Pool) Image(ctx context.Context, name string) (blockdev.ImageInfo, error) {
	return p.store.Image(ctx, name)
}

// Images lists the stored images, by name.
func (p *Pool) Images(ctx context.Context) ([]blockdev.ImageInfo, error) {
	return p.store.Images(ctx)
}

// RemoveImage deletes image name, its compact form and its size classes; ErrInvalid while
// snapshots of it exist.
func (p *Pool) RemoveImage(ctx context.Context, name string) error {
	return p.store.RemoveImage(ctx, name)
}

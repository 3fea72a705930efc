package dm

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/ext4"
	"github.com/warrenhq/warren/blockdev/internal/fsutil"
	"github.com/warrenhq/warren/blockdev/internal/naming"
)

// Flatten copies snapshot name into new image dst: the filesystem is frozen
// (FIFREEZE) during the copy when mounted, the sparse copy is checked (e2fsck -f
// -y), shrunk to its minimum (resize2fs -M) and renamed into images/. The
// snapshot is left as it was; on failure no part of dst is left.
func (p *Pool) Flatten(ctx context.Context, name, dst string) (blockdev.ImageInfo, error) {
	if err := naming.Check("name", name); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("flatten: %w", err)
	}
	if err := naming.Check("dst", dst); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("flatten %s: %w", name, err)
	}
	p.mu.Lock()
	s := p.snaps[name]
	ready := s != nil && s.ready
	p.mu.Unlock()
	if !ready {
		return blockdev.ImageInfo{}, fmt.Errorf("flatten %s: %w", name, blockdev.ErrNotFound)
	}
	s.op.Lock()
	defer s.op.Unlock()
	if s.gone {
		return blockdev.ImageInfo{}, fmt.Errorf("flatten %s: %w", name, blockdev.ErrNotFound)
	}
	release, err := p.store.ReserveNew(dst, "flatten")
	if err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("flatten %s: %w", name, err)
	}
	defer release()

	tmp := p.store.TmpPath("flatten")
	defer os.Remove(tmp) // a no-op once renamed
	if err := p.copyQuiesced(ctx, s.info, tmp); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("flatten %s to %s: %w", name, dst, err)
	}
	if err := ext4.Fsck(ctx, tmp); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("flatten %s to %s: %w", name, dst, err)
	}
	if err := ext4.Shrink(ctx, tmp); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("flatten %s to %s: %w", name, dst, err)
	}
	if err := p.store.Publish(tmp, dst); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("flatten %s: %w", name, err)
	}
	p.log.Info("snapshot flattened", "snapshot", name, "image", dst)
	return p.Image(ctx, dst)
}

// copyQuiesced copies the filesystem of snapshot info into tmp, frozen for the
// duration when it is mounted.
func (p *Pool) copyQuiesced(ctx context.Context, info blockdev.Snapshot, tmp string) (err error) {
	mounts, err := fsutil.MountPoints(info.Device)
	if err != nil {
		return err
	}
	if len(mounts) > 0 {
		// One mount point freezes the filesystem for all of them.
		if err := fsutil.Freeze(mounts[0]); err != nil {
			return err
		}
		defer func() {
			if terr := fsutil.Thaw(mounts[0]); terr != nil {
				err = errors.Join(err, terr)
			}
		}()
	}
	return copyDevice(ctx, tmp, info.Device, info.SizeBytes)
}

package reflink

import (
	"context"
	"fmt"
	"os"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/ext4"
	"github.com/warrenhq/warren/blockdev/internal/fsutil"
	"github.com/warrenhq/warren/blockdev/internal/naming"
)

// Flatten clones snapshot name's file to a temporary file while the snapshot's
// filesystem is frozen (FIFREEZE on its mount point, when this mount namespace
// has it mounted; otherwise the device is flushed), then checks (e2fsck -f -y)
// and shrinks (resize2fs -M) the clone and stores it as image dst.
func (p *Pool) Flatten(ctx context.Context, name, dst string) (blockdev.ImageInfo, error) {
	if err := naming.Check("name", name); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("flatten: %w", err)
	}
	if err := naming.Check("dst", dst); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("flatten %s: %w", name, err)
	}
	s := p.lookup(name)
	if s == nil {
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
	if err := p.cloneQuiesced(s, tmp); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("flatten %s: %w", name, err)
	}
	defer os.Remove(tmp) // a no-op once renamed
	if err := ext4.Fsck(ctx, tmp); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("flatten %s: %w", name, err)
	}
	if err := ext4.Shrink(ctx, tmp); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("flatten %s: %w", name, err)
	}
	if err := p.store.Publish(tmp, dst); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("flatten %s: %w", name, err)
	}
	p.log.Info("snapshot flattened", "snapshot", name, "image", dst)
	return p.Image(ctx, dst)
}

// cloneQuiesced clones s's file to tmp with its filesystem quiesced.
func (p *Pool) cloneQuiesced(s *snap, tmp string) error {
	file := p.snapPath(s.info.Name)
	if s.info.Device == "" {
		return fsutil.Clone(tmp, file)
	}
	points, err := fsutil.MountPoints(s.info.Device)
	if err != nil {
		return err
	}
	if len(points) == 0 {
		// Not mounted here: flush what was written through the device node.
		f, err := os.Open(s.info.Device)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("flush %s: %w", s.info.Device, err)
		}
		return fsutil.Clone(tmp, file)
	}
	if err := fsutil.Freeze(points[0]); err != nil {
		return err
	}
	cloneErr := fsutil.Clone(tmp, file)
	if err := fsutil.Thaw(points[0]); err != nil {
		p.log.Error("cannot thaw snapshot filesystem", "snapshot", s.info.Name, "mount", points[0], "err", err)
		if cloneErr == nil {
			os.Remove(tmp)
			return err
		}
	}
	return cloneErr
}

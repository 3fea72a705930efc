package reflink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/ext4"
	"github.com/warrenhq/warren/blockdev/internal/fsutil"
	"github.com/warrenhq/warren/blockdev/internal/naming"
	"github.com/warrenhq/warren/blockdev/loop"
)

// originXattr records a snapshot file's image so a restarted process knows it.
const originXattr = "user.warren.origin"

// CreateSnapshot clones image origin to snapshots/<prefix>-<name>.img, resizes
// the clone's filesystem offline when sizeBytes (rounded down to 4 KiB) differs
// from the image's, and attaches it to a loop device.
func (p *Pool) CreateSnapshot(ctx context.Context, name, origin string, sizeBytes int64) (blockdev.Snapshot, error) {
	if err := naming.Check("name", name); err != nil {
		return blockdev.Snapshot{}, fmt.Errorf("create snapshot: %w", err)
	}
	if err := naming.Check("origin", origin); err != nil {
		return blockdev.Snapshot{}, fmt.Errorf("create snapshot %s: %w", name, err)
	}
	size := sizeBytes / ext4.BlockSize * ext4.BlockSize
	if size <= 0 {
		return blockdev.Snapshot{}, fmt.Errorf("create snapshot %s: sizeBytes %d: below one block: %w", name, sizeBytes, blockdev.ErrInvalid)
	}

	p.mu.Lock()
	if err := p.checkOpen(); err != nil {
		p.mu.Unlock()
		return blockdev.Snapshot{}, fmt.Errorf("create snapshot %s: %w", name, err)
	}
	if _, ok := p.snaps[name]; ok {
		p.mu.Unlock()
		return blockdev.Snapshot{}, fmt.Errorf("create snapshot %s: %w", name, blockdev.ErrExists)
	}
	if p.store.Busy(origin) == "remove" {
		p.mu.Unlock()
		return blockdev.Snapshot{}, fmt.Errorf("create snapshot %s: image %s: being removed: %w", name, origin, blockdev.ErrNotFound)
	}
	s := &snap{info: blockdev.Snapshot{Name: name, Origin: origin}}
	s.op.Lock()
	defer s.op.Unlock()
	p.snaps[name] = s
	p.store.Ref(origin)
	p.mu.Unlock()

	if err := p.create(ctx, s, size); err != nil {
		s.gone = true
		p.forget(s)
		return blockdev.Snapshot{}, fmt.Errorf("create snapshot %s: %w", name, err)
	}
	p.mu.Lock()
	s.ready = true
	p.mu.Unlock()
	p.log.Debug("snapshot created", "snapshot", name, "origin", origin, "device", s.info.Device, "size", s.info.SizeBytes)
	return s.info, nil
}

// create does the work of CreateSnapshot; on failure it leaves nothing behind.
func (p *Pool) create(ctx context.Context, s *snap, size int64) (err error) {
	src, file := p.store.Path(s.info.Origin), p.snapPath(s.info.Name)
	if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("image %s: %w", s.info.Origin, blockdev.ErrNotFound)
	}
	if err := p.cloneFor(ctx, file, src, s.info.Origin, size); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("stale file %s (run CleanupStale): %w", file, blockdev.ErrExists)
		}
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(file)
		}
	}()
	if err := unix.Setxattr(file, originXattr, []byte(s.info.Origin), 0); err != nil {
		p.log.Warn("cannot record snapshot origin", "file", file, "err", err)
	}
	info, err := ext4.ReadSuperblock(file)
	if err != nil {
		return fmt.Errorf("image %s: %w", s.info.Origin, err)
	}
	if info.Bytes() != size {
		if err := ctxErr(ctx, "resize"); err != nil {
			return err
		}
		if err := ext4.Resize(ctx, file, size); err != nil {
			return err
		}
		if info, err = ext4.ReadSuperblock(file); err != nil {
			return err
		}
		if info.Bytes() != size {
			return fmt.Errorf("resize2fs made %d bytes, not %d", info.Bytes(), size)
		}
	}
	dev, err := loop.Attach(file, false)
	if err != nil {
		return err
	}
	s.info.Device, s.info.SizeBytes = dev, info.Bytes()
	return nil
}

// cloneFor clones image origin (file src) to file with a filesystem of size
// bytes when it can: the image itself or its compact form when one has that
// size, else the image's size class for size (sizes.go). A new class smaller
// than the (grown) image is made from the compact form: resize2fs grows in
// tens of milliseconds but shrinks in most of a second.
func (p *Pool) cloneFor(ctx context.Context, file, src, origin string, size int64) error {
	full, err := ext4.ReadSuperblock(src)
	if err != nil || full.Bytes() == size {
		return fsutil.Clone(file, src)
	}
	from := src
	small := p.store.CompactPath(origin)
	if c, err := ext4.ReadSuperblock(small); err == nil {
		if c.Bytes() == size {
			return fsutil.Clone(file, small)
		}
		if c.Bytes() < size && full.Bytes() > size {
			from = small
		}
	}
	return p.cloneSized(ctx, file, origin, from, size)
}

// forget drops s from the pool's maps.
func (p *Pool) forget(s *snap) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.snaps[s.info.Name] == s {
		delete(p.snaps, s.info.Name)
	}
	p.store.Unref(s.info.Origin)
}

// Snapshots lists the snapshots held (created ones, and ones found at Open), by name.
func (p *Pool) Snapshots(ctx context.Context) ([]blockdev.Snapshot, error) {
	p.mu.Lock()
	var held []*snap
	for _, s := range p.snaps {
		if s.ready {
			held = append(held, s)
		}
	}
	p.mu.Unlock()
	out := make([]blockdev.Snapshot, 0, len(held))
	for _, s := range held {
		s.op.Lock()
		if !s.gone {
			out = append(out, s.info)
		}
		s.op.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove detaches snapshot name's loop device and deletes its file. If the
// device is still in use the snapshot is kept and the error wraps EBUSY.
func (p *Pool) Remove(ctx context.Context, name string) error {
	if err := naming.Check("name", name); err != nil {
		return fmt.Errorf("remove snapshot: %w", err)
	}
	s := p.lookup(name)
	if s == nil {
		return fmt.Errorf("remove snapshot %s: %w", name, blockdev.ErrNotFound)
	}
	s.op.Lock()
	defer s.op.Unlock()
	if s.gone {
		return fmt.Errorf("remove snapshot %s: %w", name, blockdev.ErrNotFound)
	}
	if err := p.destroy(s); err != nil {
		return fmt.Errorf("remove snapshot %s: %w", name, err)
	}
	p.log.Debug("snapshot removed", "snapshot", name)
	return nil
}

func (p *Pool) lookup(name string) *snap {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snaps[name]
}

// destroy detaches and deletes s and forgets it. The caller holds s.op.
func (p *Pool) destroy(s *snap) error {
	file := p.snapPath(s.info.Name)
	if s.info.Device != "" {
		if err := detachIfBacked(s.info.Device, file); err != nil {
			return err
		}
		s.info.Device = ""
	}
	if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s.gone = true
	p.forget(s)
	return nil
}

// detachIfBacked detaches dev if it is still backed by file: a device that
// detached itself after a deferred detach may since back someone else's file.
func detachIfBacked(dev, file string) error {
	backing, err := loop.BackingFile(dev)
	if err != nil {
		return err
	}
	if backing != file {
		return nil
	}
	return loop.Detach(dev)
}

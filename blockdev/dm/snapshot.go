package dm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/ext4"
	"github.com/warrenhq/warren/blockdev/internal/naming"
	"github.com/warrenhq/warren/blockdev/loop"
)

// cleanupTimeout bounds the undo of a failed create; it runs on a context of
// its own so it survives the caller's cancellation.
const cleanupTimeout = 30 * time.Second

// CreateSnapshot makes snapshot name of image origin with a filesystem of
// sizeBytes (rounded down to 4 KiB). See the package documentation for the
// device stack. On failure everything made so far is removed and the origin's
// reference released.
func (p *Pool) CreateSnapshot(ctx context.Context, name, origin string, sizeBytes int64) (blockdev.Snapshot, error) {
	if err := naming.Check("name", name); err != nil {
		return blockdev.Snapshot{}, fmt.Errorf("create snapshot: %w", err)
	}
	if err := naming.Check("origin", origin); err != nil {
		return blockdev.Snapshot{}, fmt.Errorf("create snapshot %s: %w", name, err)
	}
	size := sizeBytes / ext4.BlockSize * ext4.BlockSize
	if size < 1<<20 {
		return blockdev.Snapshot{}, fmt.Errorf("create snapshot %s: sizeBytes %d: below 1 MiB: %w", name, sizeBytes, blockdev.ErrInvalid)
	}
	s, err := p.reserveSnapshot(name, origin)
	if err != nil {
		return blockdev.Snapshot{}, err
	}
	defer s.op.Unlock()

	s.info = blockdev.Snapshot{Name: name, Origin: origin, Device: nodePath(p.devName(name)), SizeBytes: size}
	if err := p.build(ctx, s); err != nil {
		cctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if cerr := p.teardown(cctx, s); cerr != nil {
			p.log.Error("create snapshot: undo", "snapshot", name, "err", cerr)
			err = errors.Join(err, cerr)
		}
		s.gone = true
		p.forget(s)
		return blockdev.Snapshot{}, fmt.Errorf("create snapshot %s of %s: %w", name, origin, err)
	}
	p.mu.Lock()
	s.ready = true
	p.mu.Unlock()
	p.log.Info("snapshot created", "snapshot", name, "origin", origin, "size", size, "device", s.info.Device)
	return s.info, nil
}

// reserveSnapshot registers snapshot name (not ready) holding one reference on
// image origin, and returns it with its op lock held.
func (p *Pool) reserveSnapshot(name, origin string) (*snap, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.checkOpen(); err != nil {
		return nil, fmt.Errorf("create snapshot %s: %w", name, err)
	}
	if _, ok := p.snaps[name]; ok {
		return nil, fmt.Errorf("create snapshot %s: %w", name, blockdev.ErrExists)
	}
	if busy := p.store.Busy(origin); busy != "" {
		return nil, fmt.Errorf("create snapshot %s: image %s: %s in progress: %w", name, origin, busy, blockdev.ErrUnavailable)
	}
	if _, err := os.Stat(p.store.Path(origin)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("create snapshot %s: image %s: %w", name, origin, blockdev.ErrNotFound)
		}
		return nil, fmt.Errorf("create snapshot %s: image %s: %w", name, origin, err)
	}
	s := &snap{imagePath: p.store.Path(origin)}
	s.op.Lock()
	p.snaps[name] = s
	p.store.Ref(origin)
	return s, nil
}

// forget drops snapshot s from the pool and its image reference.
func (p *Pool) forget(s *snap) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.snaps[s.info.Name] == s {
		delete(p.snaps, s.info.Name)
	}
	p.store.Unref(s.info.Origin)
}

// build makes the device stack of s and sizes its filesystem. Whatever it made
// is recorded in s for teardown.
func (p *Pool) build(ctx context.Context, s *snap) error {
	name := s.info.Name
	originLoop, err := p.origins.Acquire(s.imagePath)
	if err != nil {
		return err
	}
	s.originLoop = originLoop
	originDev, originBytes, err := blockDevice(originLoop)
	if err != nil {
		return err
	}
	fs, err := ext4.ReadSuperblock(originLoop)
	if err != nil {
		return fmt.Errorf("image %s: %w", s.info.Origin, err)
	}
	originSectors := uint64(originBytes) / sectorSize
	// The device covers both the image and the requested size: a shrink needs
	// the whole old filesystem visible while resize2fs moves blocks down.
	devSectors := max(originSectors, uint64(s.info.SizeBytes)/sectorSize)
	if devSectors > originSectors {
		ext, err := createDevice(p.extName(name), true, extendTable(originSectors, devSectors, originDev))
		if err != nil {
			return err
		}
		s.ext = true
		originDev = ext
	}

	cow, err := os.OpenFile(p.cowPath(name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("cow file: %w", err)
	}
	s.cowFile = true
	err = cow.Truncate(cowBytes(int64(devSectors) * sectorSize))
	if cerr := cow.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cow file %s: %w", p.cowPath(name), err)
	}
	if s.cowDev, err = loop.Attach(p.cowPath(name), false); err != nil {
		return err
	}
	cowDev, _, err := blockDevice(s.cowDev)
	if err != nil {
		return err
	}
	if _, err := createDevice(p.devName(name), false, snapshotTable(devSectors, originDev, cowDev)); err != nil {
		return err
	}
	s.dev = true
	if fs.Bytes() != s.info.SizeBytes {
		if err := resizeDevice(ctx, s.info.Device, fs.Bytes(), s.info.SizeBytes); err != nil {
			return err
		}
	}
	return nil
}

// Snapshots lists the snapshots of this pool, by name.
func (p *Pool) Snapshots(ctx context.Context) ([]blockdev.Snapshot, error) {
	p.mu.Lock()
	ready := make([]*snap, 0, len(p.snaps))
	for _, s := range p.snaps {
		if s.ready {
			ready = append(ready, s)
		}
	}
	p.mu.Unlock()
	out := make([]blockdev.Snapshot, 0, len(ready))
	for _, s := range ready {
		s.op.Lock()
		if !s.gone {
			out = append(out, s.info)
		}
		s.op.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// blockDevice returns the device number and size in bytes of block device path.
func blockDevice(path string) (uint64, int64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, 0, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return 0, 0, fmt.Errorf("%s: not a block device", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	size, err := unix.IoctlGetUint64(int(f.Fd()), unix.BLKGETSIZE64)
	if err != nil {
		return 0, 0, fmt.Errorf("BLKGETSIZE64 %s: %w", path, err)
	}
	return st.Rdev, int64(size), nil
}

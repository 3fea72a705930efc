package dm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/fsutil"
	"github.com/warrenhq/warren/blockdev/loop"
)

// CleanupStale removes what a crashed process left of this pool: dm devices
// named <prefix>-* (unmounting them first; snapshot devices before the @ext
// devices under them), loop devices backed by the pool's images or by its
// <prefix>-* CoW files, those CoW files, its <prefix>-* temporary files and
// stale /dev/mapper/<prefix>-* nodes. It fails with ErrInvalid while this pool
// holds snapshots: call it at start. It carries on past failures and returns
// them all.
func (p *Pool) CleanupStale(ctx context.Context) error {
	p.mu.Lock()
	err := p.checkOpen()
	if err == nil && len(p.snaps) > 0 {
		err = fmt.Errorf("dm pool %s: cleanup with %d live snapshots: %w", p.dir, len(p.snaps), blockdev.ErrInvalid)
	}
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("cleanup stale: %w", err)
	}
	mounts, err := fsutil.Mounts()
	if err != nil {
		return fmt.Errorf("cleanup stale: %w", err)
	}
	var errs []error
	own := p.prefix + "-"

	devs, err := listDevices()
	if err != nil {
		return fmt.Errorf("cleanup stale: %w", err)
	}
	sort.SliceStable(devs, func(i, j int) bool {
		return !strings.HasSuffix(devs[i].Name, extSuffix) && strings.HasSuffix(devs[j].Name, extSuffix)
	})
	for _, d := range devs {
		if !strings.HasPrefix(d.Name, own) {
			continue
		}
		errs = append(errs, unmountDev(mounts, d.Dev)...)
		if err := removeDevice(ctx, d.Name); err != nil && !errors.Is(err, errNoDevice) {
			errs = append(errs, err)
			continue
		}
		p.log.Info("removed stale dm device", "device", d.Name)
	}

	loops, err := loop.List()
	if err != nil {
		errs = append(errs, err)
	}
	for _, l := range loops {
		if !p.ownsFile(l.BackingFile) {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(l.Path, &st); err == nil {
			errs = append(errs, unmountDev(mounts, st.Rdev)...)
		}
		if err := loop.Detach(l.Path); err != nil {
			errs = append(errs, err)
			continue
		}
		p.log.Info("detached stale loop device", "device", l.Path, "file", l.BackingFile)
	}

	for _, dir := range []string{p.cow, p.store.TmpDir(), mapperDir} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), own) {
				continue
			}
			path := filepath.Join(dir, e.Name())
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
				continue
			}
			p.log.Info("removed stale file", "path", path)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleanup stale %s (prefix %s): %w", p.dir, p.prefix, err)
	}
	return nil
}

// ownsFile reports whether a loop device's backing file belongs to this pool:
// a stored image (their loop devices are the pool's origins) or one of its
// <prefix>-* CoW or temporary files.
func (p *Pool) ownsFile(path string) bool {
	dir, base := filepath.Dir(path), filepath.Base(path)
	switch dir {
	case p.store.Dir():
		return true
	case p.cow, p.store.TmpDir():
		return strings.HasPrefix(base, p.prefix+"-")
	}
	return false
}

// unmountDev unmounts every mount of device dev (lazily when busy).
func unmountDev(mounts []fsutil.Mount, dev uint64) []error {
	var errs []error
	for i := len(mounts) - 1; i >= 0; i-- { // newest first
		m := mounts[i]
		if m.Major != unix.Major(dev) || m.Minor != unix.Minor(dev) {
			continue
		}
		err := unix.Unmount(m.Point, 0)
		if errors.Is(err, unix.EBUSY) {
			err = unix.Unmount(m.Point, unix.MNT_DETACH)
		}
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m.Point, err))
		}
	}
	return errs
}

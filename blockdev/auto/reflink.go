package auto

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/fsutil"
	"github.com/warrenhq/warren/blockdev/loop"
	"github.com/warrenhq/warren/blockdev/reflink"
)

// reflinkPool is a reflink pool plus the XFS pool file mount auto owns.
type reflinkPool struct {
	*reflink.Pool
	log      *slog.Logger
	mountDir string // non-empty when auto owns the mount at mountDir
	file     string // the pool file
	device   string // the pool file's loop device
}

// openReflink opens a reflink pool in DataDir/pool, mounting the XFS pool file
// there when it exists or when the directory cannot reflink.
func openReflink(ctx context.Context, cfg Config) (blockdev.Pool, error) {
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "pool"), 0o700); err != nil {
		return nil, fmt.Errorf("open reflink pool: %w", err)
	}
	dataDir, err := filepath.EvalSymlinks(cfg.DataDir) // loop backing files are reported resolved
	if err != nil {
		return nil, fmt.Errorf("open reflink pool: %w", err)
	}
	dir := filepath.Join(dataDir, "pool")
	file := filepath.Join(dataDir, "pool.xfs")
	log := cfg.Logger
	rp := &reflinkPool{log: log, file: file}

	mounted, dev, err := poolMount(dir, file)
	switch {
	case err != nil:
		return nil, fmt.Errorf("open reflink pool %s: %w", dir, err)
	case mounted && dev != "":
		log.Info("reusing mounted pool file", "file", file, "dir", dir, "device", dev)
		rp.mountDir, rp.device = dir, dev
	case mounted:
		log.Info("using filesystem mounted at pool dir", "dir", dir)
	default:
		_, statErr := os.Stat(file)
		if statErr != nil && !errors.Is(statErr, os.ErrNotExist) {
			return nil, fmt.Errorf("open reflink pool: %w", statErr)
		}
		if statErr != nil {
			if probeErr := probeReflink(dir); probeErr == nil {
				log.Info("pool dir supports reflinks", "dir", dir)
				break
			} else {
				log.Info("pool dir cannot reflink, creating XFS pool file", "dir", dir, "file", file, "reason", probeErr)
			}
			if err := makePoolFile(ctx, file, cfg.PoolFileSize); err != nil {
				return nil, fmt.Errorf("open reflink pool: %w", err)
			}
		}
		dev, err := mountPoolFile(file, dir)
		if err != nil {
			return nil, fmt.Errorf("open reflink pool: %w", err)
		}
		log.Info("mounted pool file", "file", file, "dir", dir, "device", dev)
		rp.mountDir, rp.device = dir, dev
	}
	if err := probeReflink(dir); err != nil {
		rp.unmount()
		return nil, fmt.Errorf("open reflink pool %s: %w", dir, err)
	}
	p, err := reflink.Open(ctx, reflink.Config{Dir: dir, Prefix: cfg.Prefix, Logger: log, MaxSizeClasses: cfg.MaxSizeClasses})
	if err != nil {
		rp.unmount()
		return nil, err
	}
	rp.Pool = p
	return rp, nil
}

// Close closes the pool and, when no snapshot remains attached, unmounts and
// detaches the pool file auto mounted (snapshots' loop devices hold files on it).
func (rp *reflinkPool) Close() error {
	err := rp.Pool.Close()
	if rp.mountDir == "" {
		return err
	}
	snaps, serr := rp.Snapshots(context.Background())
	if serr != nil {
		return errors.Join(err, serr)
	}
	if len(snaps) > 0 {
		rp.log.Info("pool file stays mounted: snapshots remain", "dir", rp.mountDir, "snapshots", len(snaps))
		return err
	}
	return errors.Join(err, rp.unmount())
}

func (rp *reflinkPool) unmount() error {
	if rp.mountDir == "" {
		return nil
	}
	if err := unix.Unmount(rp.mountDir, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount pool %s: %w", rp.mountDir, err)
	}
	rp.mountDir = ""
	if backing, err := loop.BackingFile(rp.device); err != nil || backing != rp.file {
		return err // already detached (and maybe reused by someone else)
	}
	if err := loop.Detach(rp.device); err != nil {
		return fmt.Errorf("unmount pool: %w", err)
	}
	return nil
}

// poolMount reports whether dir is a mount point and, when it is the pool file
// mounted through a loop device, that device.
func poolMount(dir, file string) (mounted bool, dev string, err error) {
	mounts, err := fsutil.Mounts()
	if err != nil {
		return false, "", err
	}
	for _, m := range mounts {
		if m.Point != dir {
			continue
		}
		mounted, dev = true, ""
		if m.Major == 7 { // loop
			d := fmt.Sprintf("/dev/loop%d", m.Minor)
			if backing, err := loop.BackingFile(d); err == nil && backing == file {
				dev = d
			}
		}
	}
	return mounted, dev, nil
}

// makePoolFile creates file as a sparse XFS filesystem with reflinks.
func makePoolFile(ctx context.Context, file string, size int64) error {
	tmp := file + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create pool file %s: %w", tmp, err)
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		out, cmdErr := exec.CommandContext(ctx, "mkfs.xfs", "-q", "-m", "reflink=1", tmp).CombinedOutput()
		if cmdErr != nil {
			err = fmt.Errorf("mkfs.xfs -m reflink=1: %w: %s", cmdErr, strings.TrimSpace(string(out)))
		}
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("create pool file %s: %w", file, err)
	}
	return nil
}

// mountPoolFile attaches file to a loop device and mounts it at dir. Loop devices
// of file left unmounted by a crash between attach and mount are detached first.
func mountPoolFile(file, dir string) (string, error) {
	devices, err := loop.List()
	if err != nil {
		return "", err
	}
	for _, d := range devices {
		if d.BackingFile != file {
			continue
		}
		if points, err := fsutil.MountPoints(d.Path); err == nil && len(points) == 0 {
			if err := loop.Detach(d.Path); err != nil {
				return "", fmt.Errorf("detach stale pool device: %w", err)
			}
		}
	}
	dev, err := loop.Attach(file, false)
	if err != nil {
		return "", err
	}
	if err := unix.Mount(dev, dir, "xfs", 0, ""); err != nil {
		loop.Detach(dev)
		return "", fmt.Errorf("mount %s (%s) at %s: %w", file, dev, dir, err)
	}
	return dev, nil
}

// probeReflink clones a small temporary file in dir with FICLONE.
func probeReflink(dir string) error {
	src, err := os.CreateTemp(dir, ".reflink-probe-*")
	if err != nil {
		return fmt.Errorf("probe reflink: %w", err)
	}
	defer os.Remove(src.Name())
	_, err = src.Write(make([]byte, 4096))
	if cerr := src.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("probe reflink: %w", err)
	}
	dst := src.Name() + ".clone"
	if err := fsutil.Clone(dst, src.Name()); err != nil {
		return fmt.Errorf("probe reflink in %s: %w", dir, err)
	}
	return os.Remove(dst)
}

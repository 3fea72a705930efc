// Package loop attaches files to Linux loop devices with ioctls (no losetup):
// LOOP_CTL_GET_FREE + LOOP_CONFIGURE to attach, LOOP_CLR_FD to detach, sysfs to
// list, and Shared to hand out one reference-counted read-only device per file.
package loop

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

const (
	controlPath = "/dev/loop-control"
	loopMajor   = 7
	// attachTries bounds the retries when another process grabs the device
	// LOOP_CTL_GET_FREE returned before we configure it.
	attachTries = 50
	// detachWait bounds how long Detach waits for the device to be released.
	// 2 s was not always enough on a loaded 2-core host: a node's pool device
	// was still held when TestCluster closed a node that had just cut short a
	// create (CI run of 1d6eb21), so the bound is 10 s; a free device returns
	// at once.
	detachWait = 10 * time.Second
)

// attachMu serialises attaches within this process so goroutines do not race
// each other for the same free device; other processes are handled by retrying.
var attachMu sync.Mutex

// Attach attaches the file at path to a free loop device (LOOP_CTL_GET_FREE +
// LOOP_CONFIGURE), read-only when ro. It returns "/dev/loopN". The device is not
// auto-cleared: it stays attached until Detach, even if this process exits.
func Attach(path string, ro bool) (string, error) {
	if path == "" {
		return "", fmt.Errorf("loop attach: path: empty")
	}
	flags := os.O_RDWR
	if ro {
		flags = os.O_RDONLY
	}
	backing, err := os.OpenFile(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("loop attach %s: %w", path, err)
	}
	defer backing.Close()

	ctl, err := os.OpenFile(controlPath, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("loop attach %s: open %s: %w", path, controlPath, err)
	}
	defer ctl.Close()

	attachMu.Lock()
	defer attachMu.Unlock()
	var lastErr error
	for try := 0; try < attachTries; try++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return "", fmt.Errorf("loop attach %s: LOOP_CTL_GET_FREE: %w", path, err)
		}
		dev := "/dev/loop" + strconv.Itoa(n)
		err = configure(dev, n, backing, path, ro)
		if err == nil {
			return dev, nil
		}
		if !errors.Is(err, unix.EBUSY) {
			return "", fmt.Errorf("loop attach %s to %s: %w", path, dev, err)
		}
		lastErr = err // another process took the device first: ask again
		time.Sleep(time.Duration(try+1) * time.Millisecond)
	}
	return "", fmt.Errorf("loop attach %s: no free device after %d tries: %w", path, attachTries, lastErr)
}

func configure(dev string, n int, backing *os.File, path string, ro bool) error {
	f, err := openDevice(dev, n)
	if err != nil {
		return err
	}
	defer f.Close()
	cfg := unix.LoopConfig{Fd: uint32(backing.Fd())}
	if ro {
		cfg.Info.Flags |= unix.LO_FLAGS_READ_ONLY
	}
	name := path
	if len(name) > len(cfg.Info.File_name)-1 {
		name = name[len(name)-(len(cfg.Info.File_name)-1):] // keep the distinctive tail
	}
	copy(cfg.Info.File_name[:], name)
	if err := unix.IoctlLoopConfigure(int(f.Fd()), &cfg); err != nil {
		return fmt.Errorf("LOOP_CONFIGURE: %w", err)
	}
	return nil
}

// openDevice opens /dev/loopN, creating the node if devtmpfs has not (yet).
func openDevice(dev string, n int) (*os.File, error) {
	for i := 0; ; i++ {
		f, err := os.OpenFile(dev, os.O_RDWR|unix.O_CLOEXEC, 0)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, os.ErrNotExist) || i == 1 {
			return nil, err
		}
		time.Sleep(5 * time.Millisecond)
		if _, serr := os.Stat(dev); errors.Is(serr, os.ErrNotExist) {
			mkErr := unix.Mknod(dev, unix.S_IFBLK|0o660, int(unix.Mkdev(loopMajor, uint32(n))))
			if mkErr != nil && !errors.Is(mkErr, unix.EEXIST) {
				return nil, fmt.Errorf("mknod %s: %w", dev, mkErr)
			}
		}
	}
}

// Detach detaches dev (LOOP_CLR_FD). The kernel releases the device on its last
// close, so Detach waits, with bounded backoff (~10 s), until the device is free;
// if something (a mount, another opener) still holds it, Detach fails with an
// error wrapping unix.EBUSY and the device detaches itself on that last close.
// Detaching a device that is not attached is not an error.
func Detach(dev string) error {
	n, err := deviceNumber(dev)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(dev, os.O_RDWR|unix.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("loop detach %s: %w", dev, err)
	}
	err = unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0)
	f.Close()
	if err != nil && !errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("loop detach %s: LOOP_CLR_FD: %w", dev, err)
	}
	deadline := time.Now().Add(detachWait)
	for wait := time.Millisecond; ; wait *= 2 {
		if !bound(n) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("loop detach %s: still in use after %s (detaches on last close): %w", dev, detachWait, unix.EBUSY)
		}
		time.Sleep(min(wait, 200*time.Millisecond))
	}
}

// deviceNumber parses N out of "/dev/loopN".
func deviceNumber(dev string) (int, error) {
	base := filepath.Base(dev)
	n, err := strconv.Atoi(strings.TrimPrefix(base, "loop"))
	if !strings.HasPrefix(base, "loop") || err != nil || n < 0 {
		return 0, fmt.Errorf("loop device %q: not /dev/loopN", dev)
	}
	return n, nil
}

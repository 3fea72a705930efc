package dm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// removeTries bounds DM_DEV_REMOVE retries while the device is busy (an
// unmount whose last reference is still being dropped, a udev probe): with
// the backoff below, about 5 s in all.
const removeTries = 12

// createDevice creates device name, loads targets (read-only when ro),
// activates it and makes its /dev/mapper node. On failure nothing is left.
func createDevice(name string, ro bool, targets []target) (uint64, error) {
	table, err := encodeTable(targets)
	if err != nil {
		return 0, fmt.Errorf("dm create %s: %w", name, err)
	}
	if _, _, err := call(unix.DM_DEV_CREATE, name, 0, 0, nil, 0); err != nil {
		return 0, fmt.Errorf("dm create %s: DM_DEV_CREATE: %w", name, err)
	}
	var flags uint32
	if ro {
		flags = unix.DM_READONLY_FLAG
	}
	fail := func(step string, err error) (uint64, error) {
		_, _, _ = call(unix.DM_DEV_REMOVE, name, 0, 0, nil, 0)
		return 0, fmt.Errorf("dm create %s: %s: %w", name, step, err)
	}
	if _, _, err := call(unix.DM_TABLE_LOAD, name, flags, uint32(len(targets)), table, 0); err != nil {
		return fail("DM_TABLE_LOAD "+fmt.Sprint(targets), err)
	}
	// DM_DEV_SUSPEND without DM_SUSPEND_FLAG resumes: the loaded table goes live.
	h, _, err := call(unix.DM_DEV_SUSPEND, name, 0, 0, nil, 0)
	if err != nil {
		return fail("resume", err)
	}
	if err := makeNode(name, h.dev); err != nil {
		return fail("device node", err)
	}
	return h.dev, nil
}

// nodePath is the device node of dm device name.
func nodePath(name string) string { return filepath.Join(mapperDir, name) }

// makeNode creates /dev/mapper/name for dev (there may be no udev to do it),
// replacing a node of that name that points elsewhere.
func makeNode(name string, dev uint64) error {
	path := nodePath(name)
	if err := os.MkdirAll(mapperDir, 0o755); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err == nil {
		if st.Mode&unix.S_IFMT == unix.S_IFBLK && st.Rdev == dev {
			return nil // udev (or a previous run) made it already
		}
		if err := os.Remove(path); err != nil {
			return err
		}
	}
	err := unix.Mknod(path, unix.S_IFBLK|0o600, int(dev))
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mknod %s %s: %w", path, devArg(dev), err)
	}
	return nil
}

// removeNode deletes /dev/mapper/name if present.
func removeNode(name string) error {
	err := os.Remove(nodePath(name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// errNoDevice means the dm device does not exist.
var errNoDevice = errors.New("no such dm device")

// removeDevice removes dm device name and its node, retrying while the device
// is busy. A device that does not exist gives errNoDevice (its node is removed
// all the same).
func removeDevice(ctx context.Context, name string) error {
	wait := 10 * time.Millisecond
	for try := 1; ; try++ {
		_, _, err := call(unix.DM_DEV_REMOVE, name, 0, 0, nil, 0)
		switch {
		case err == nil:
			return removeNode(name)
		case errors.Is(err, unix.ENXIO):
			if nerr := removeNode(name); nerr != nil {
				return nerr
			}
			return fmt.Errorf("dm remove %s: %w", name, errNoDevice)
		case !errors.Is(err, unix.EBUSY) || try == removeTries:
			return fmt.Errorf("dm remove %s (try %d): %w", name, try, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dm remove %s: busy, gave up: %w", name, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Second)
	}
}

// deviceInfo is one dm device found by listDevices.
type deviceInfo struct {
	Name string
	Dev  uint64
}

// listDevices lists every dm device of the host (DM_LIST_DEVICES). Each
// struct dm_name_list record holds dev (u64), next (u32, from this record)
// and the NUL-terminated name.
func listDevices() ([]deviceInfo, error) {
	_, data, err := call(unix.DM_LIST_DEVICES, "", 0, 0, nil, minOutput)
	if err != nil {
		return nil, fmt.Errorf("dm list devices: %w", err)
	}
	return decodeNameList(data)
}

func decodeNameList(data []byte) ([]deviceInfo, error) {
	var out []deviceInfo
	for off := 0; off+12 <= len(data); {
		rec := data[off:]
		dev := le.Uint64(rec[0:])
		next := int(le.Uint32(rec[8:]))
		name := cString(rec[12:])
		if dev == 0 && name == "" {
			break // an empty list is one zeroed record
		}
		out = append(out, deviceInfo{Name: name, Dev: dev})
		if next == 0 {
			break
		}
		if next < 12 {
			return nil, fmt.Errorf("dm list devices: record at %d: next %d too small", off, next)
		}
		off += next
	}
	return out, nil
}

// deviceTargets returns the status lines of device name's live table, or its
// table lines when table is set (DM_TABLE_STATUS).
func deviceTargets(name string, table bool) ([]target, error) {
	var flags uint32
	if table {
		flags = unix.DM_STATUS_TABLE_FLAG
	}
	h, data, err := call(unix.DM_TABLE_STATUS, name, flags, 0, nil, minOutput)
	if errors.Is(err, unix.ENXIO) {
		return nil, fmt.Errorf("dm status %s: %w", name, errNoDevice)
	}
	if err != nil {
		return nil, fmt.Errorf("dm status %s: %w", name, err)
	}
	return decodeStatus(data, h.targetCount)
}

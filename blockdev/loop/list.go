package loop

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Device is an attached loop device.
type Device struct {
	Path        string // "/dev/loopN"
	BackingFile string // absolute path of the backing file; " (deleted)" is stripped
}

const sysBlock = "/sys/block"

// List returns the attached loop devices and their backing files (from
// /sys/block/loop*/loop/backing_file), ordered by device number.
func List() ([]Device, error) {
	entries, err := os.ReadDir(sysBlock)
	if err != nil {
		return nil, fmt.Errorf("list loop devices: %w", err)
	}
	type numbered struct {
		n int
		d Device
	}
	var found []numbered
	for _, e := range entries {
		name := e.Name()
		n, err := strconv.Atoi(strings.TrimPrefix(name, "loop"))
		if !strings.HasPrefix(name, "loop") || err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(sysBlock, name, "loop", "backing_file"))
		if detached(err) {
			continue // not attached, or detached while we looked
		}
		if err != nil {
			return nil, fmt.Errorf("list loop devices: %s: %w", name, err)
		}
		file := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), " (deleted)")
		found = append(found, numbered{n, Device{Path: "/dev/" + name, BackingFile: file}})
	}
	sort.Slice(found, func(i, j int) bool { return found[i].n < found[j].n })
	out := make([]Device, len(found))
	for i, f := range found {
		out[i] = f.d
	}
	return out, nil
}

// bound reports whether loop device n still has a backing file.
func bound(n int) bool {
	_, err := os.Stat(filepath.Join(sysBlock, "loop"+strconv.Itoa(n), "loop", "backing_file"))
	return err == nil
}

// BackingFile returns the backing file of dev ("/dev/loopN"), or "" when the
// device is not attached.
func BackingFile(dev string) (string, error) {
	n, err := deviceNumber(dev)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(sysBlock, "loop"+strconv.Itoa(n), "loop", "backing_file"))
	if detached(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("backing file of %s: %w", dev, err)
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), " (deleted)"), nil
}

// detached reports whether reading a loop device's backing_file failed
// because the device has no backing file: never attached (ENOENT), or detached
// by another process between listing /sys/block and the read (ENODEV, ENXIO).
func detached(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENXIO)
}

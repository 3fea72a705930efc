package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/warrenhq/warren/blockdev"
)

// CleanupStale removes every sandbox resource of this node that a crash left
// behind: containers and their cgroups, network namespaces and veths, rootfs
// mounts, pool snapshots and sandbox directories. Call it at start, before any
// Create; sandboxes do not survive a node restart (their rows become lost).
func (m *Manager) CleanupStale(ctx context.Context) error {
	entries, err := os.ReadDir(m.cfg.Dir)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	var dirs []string // one per sandbox left behind
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			dirs = append(dirs, filepath.Join(m.cfg.Dir, e.Name()))
		}
	}
	var errs []error
	// A node killed mid-snapshot leaves the rootfs frozen: thaw it before
	// its processes are killed and it is unmounted (see blockdev.ThawMount).
	for _, dir := range dirs {
		if err := blockdev.ThawMount(filepath.Join(dir, "rootfs")); err != nil {
			errs = append(errs, err)
		}
	}
	// gVisor's containers first, without its cgroup sweep (runc's containers
	// still live there): runc's cleanup then deletes its own and empties
	// every cgroup of the node's parent that is left, runsc's included.
	if m.gvisor != nil {
		if err := m.gvisor.CleanupStaleContainers(ctx, func(string) bool { return false }); err != nil {
			errs = append(errs, fmt.Errorf("gVisor containers: %w", err))
		}
	}
	if err := m.runc.CleanupStale(ctx, func(string) bool { return false }); err != nil {
		errs = append(errs, fmt.Errorf("containers: %w", err))
	}
	if err := m.net.CleanupStale(ctx, func(string) bool { return false }); err != nil {
		errs = append(errs, fmt.Errorf("networks: %w", err))
	}
	for _, dir := range dirs {
		if err := unmount(filepath.Join(dir, "rootfs")); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.pool.CleanupStale(ctx); err != nil {
		errs = append(errs, fmt.Errorf("disks: %w", err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("sandbox: cleaning up after a crash: %w", errors.Join(errs...))
	}
	return nil
}

// Sweep removes what ended sandboxes left behind while this node runs: a
// teardown whose disk was still busy (a loop device the kernel had not
// released yet) keeps its snapshot and directory, and a later sweep finishes
// it. Live sandboxes, including ones being created, are never touched.
func (m *Manager) Sweep(ctx context.Context) error {
	snaps, err := m.pool.Snapshots(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range snaps {
		if m.Has(s.Name) {
			continue
		}
		dir := filepath.Join(m.cfg.Dir, s.Name)
		if err := blockdev.ThawMount(filepath.Join(dir, "rootfs")); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := unmount(filepath.Join(dir, "rootfs")); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := m.pool.Remove(ctx, s.Name); err != nil && !isNotFound(err) {
			errs = append(errs, err)
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
		m.log.Info("swept the disk of an ended sandbox", "sandbox", s.Name)
	}
	return errors.Join(errs...)
}

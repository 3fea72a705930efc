package reflink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/ext4"
	"github.com/warrenhq/warren/blockdev/internal/naming"
	"github.com/warrenhq/warren/blockdev/loop"
)

// load registers the snapshot files (and their loop devices) a previous process
// left in the pool.
func (p *Pool) load() error {
	entries, err := os.ReadDir(p.snapshots)
	if err != nil {
		return err
	}
	devices, err := loop.List()
	if err != nil {
		return err
	}
	for _, e := range entries {
		name, ok := p.snapName(e.Name())
		if !ok {
			continue
		}
		file := filepath.Join(p.snapshots, e.Name())
		s := &snap{info: blockdev.Snapshot{Name: name}, ready: true}
		buf := make([]byte, naming.MaxLen)
		if n, err := unix.Getxattr(file, originXattr, buf); err == nil {
			s.info.Origin = string(buf[:n])
		}
		for _, d := range devices {
			if d.BackingFile == file {
				s.info.Device = d.Path
			}
		}
		if info, err := ext4.ReadSuperblock(file); err == nil {
			s.info.SizeBytes = info.Bytes()
		}
		p.snaps[name] = s
		p.store.Ref(s.info.Origin)
		p.log.Info("found snapshot", "snapshot", name, "origin", s.info.Origin, "device", s.info.Device)
	}
	return nil
}

// snapName returns the snapshot name in a snapshots/ file name of this pool.
func (p *Pool) snapName(base string) (string, bool) {
	rest, ok := strings.CutPrefix(base, p.prefix+"-")
	if !ok {
		return "", false
	}
	name, ok := strings.CutSuffix(rest, ".img")
	return name, ok && naming.Check("name", name) == nil
}

// CleanupStale removes every snapshot of this pool, then any loop device backed
// by a file under snapshots/ with this pool's prefix, any such file, and every
// temporary file with the prefix. Call it at start: it also deletes the
// temporary files of imports, flattens and grows in progress.
func (p *Pool) CleanupStale(ctx context.Context) error {
	p.mu.Lock()
	held := make([]*snap, 0, len(p.snaps))
	for _, s := range p.snaps {
		held = append(held, s)
	}
	p.mu.Unlock()
	var errs []error
	for _, s := range held {
		s.op.Lock()
		if !s.gone {
			if err := p.destroy(s); err != nil {
				errs = append(errs, fmt.Errorf("snapshot %s: %w", s.info.Name, err))
			} else {
				p.log.Info("removed stale snapshot", "snapshot", s.info.Name)
			}
		}
		s.op.Unlock()
	}

	mine := p.prefix + "-"
	devices, err := loop.List()
	if err != nil {
		errs = append(errs, err)
	}
	for _, d := range devices {
		dir, base := filepath.Split(d.BackingFile)
		if filepath.Clean(dir) == p.snapshots && strings.HasPrefix(base, mine) {
			if err := loop.Detach(d.Path); err != nil {
				errs = append(errs, err)
			} else {
				p.log.Info("detached stale loop device", "device", d.Path, "file", d.BackingFile)
			}
		}
	}
	for _, dir := range []string{p.snapshots, p.store.TmpDir()} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), mine) {
				continue
			}
			if name, ok := p.snapName(e.Name()); ok && dir == p.snapshots && p.lookup(name) != nil {
				continue // created since the sweep above
			}
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			} else {
				p.log.Info("removed stale file", "file", e.Name())
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleanup stale (prefix %s): %w", p.prefix, err)
	}
	return nil
}

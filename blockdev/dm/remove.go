package dm

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/naming"
	"github.com/warrenhq/warren/blockdev/loop"
)

// Remove removes snapshot name: its dm device (retrying while busy), its @ext
// device, the CoW loop device and file, and its reference on the image's shared
// loop device. If the dm device stays busy (still mounted) Remove fails and
// keeps the snapshot, so a later Remove can finish; every other part is removed
// whatever state a failed or crashed create left.
func (p *Pool) Remove(ctx context.Context, name string) error {
	if err := naming.Check("name", name); err != nil {
		return fmt.Errorf("remove snapshot: %w", err)
	}
	p.mu.Lock()
	s := p.snaps[name]
	p.mu.Unlock()
	if s == nil {
		return fmt.Errorf("remove snapshot %s: %w", name, blockdev.ErrNotFound)
	}
	s.op.Lock()
	defer s.op.Unlock()
	if s.gone {
		return fmt.Errorf("remove snapshot %s: %w", name, blockdev.ErrNotFound)
	}
	if err := p.teardown(ctx, s); err != nil {
		return fmt.Errorf("remove snapshot %s: %w", name, err)
	}
	s.gone = true
	p.forget(s)
	p.log.Info("snapshot removed", "snapshot", name)
	return nil
}

// teardown removes the device stack of s top down. It stops at the first part
// that cannot be removed, since everything below it is still in use.
func (p *Pool) teardown(ctx context.Context, s *snap) error {
	name := s.info.Name
	// The dm devices are looked for even when s does not record them: a
	// failure between DM_DEV_CREATE and recording leaves one behind.
	for _, dev := range []string{p.devName(name), p.extName(name)} {
		if err := removeDevice(ctx, dev); err != nil && !errors.Is(err, errNoDevice) {
			return err
		}
	}
	s.dev, s.ext = false, false
	if s.cowDev != "" {
		if err := loop.Detach(s.cowDev); err != nil {
			return fmt.Errorf("cow loop device: %w", err)
		}
		s.cowDev = ""
	}
	if s.cowFile {
		if err := os.Remove(p.cowPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cow file: %w", err)
		}
		s.cowFile = false
	}
	if s.originLoop != "" {
		// The reference is dropped even when the last one's detach fails: the
		// device then stays attached, is reused by the next Acquire and removed
		// by CleanupStale at the latest.
		if err := p.origins.Release(s.imagePath); err != nil {
			p.log.Warn("origin loop device stays attached", "snapshot", name, "image", s.info.Origin, "err", err)
		}
		s.originLoop = ""
	}
	return nil
}

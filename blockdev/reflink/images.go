package reflink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/ext4"
	"github.com/warrenhq/warren/blockdev/internal/fsutil"
	"github.com/warrenhq/warren/blockdev/internal/naming"
)

// ImportImage copies src (reflinks when it is on the pool's filesystem) to a
// temporary file, checks it is ext4 and runs e2fsck -f -y on the copy, then moves
// it into place as image name.
func (p *Pool) ImportImage(ctx context.Context, name, src string) (blockdev.ImageInfo, error) {
	if err := naming.Check("name", name); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("import image: %w", err)
	}
	if src == "" {
		return blockdev.ImageInfo{}, fmt.Errorf("import image %s: src: empty: %w", name, blockdev.ErrInvalid)
	}
	st, err := os.Stat(src)
	if errors.Is(err, os.ErrNotExist) {
		return blockdev.ImageInfo{}, fmt.Errorf("import image %s: src %s: %w", name, src, blockdev.ErrNotFound)
	}
	if err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("import image %s: src: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return blockdev.ImageInfo{}, fmt.Errorf("import image %s: src %s: not a regular file: %w", name, src, blockdev.ErrInvalid)
	}
	release, err := p.reserveNewImage(name, "import")
	if err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("import image: %w", err)
	}
	defer release()

	tmp := p.tmpPath("import")
	if err := fsutil.CopySparse(tmp, src); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("import image %s: %w", name, err)
	}
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := ext4.ReadSuperblock(tmp); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("import image %s: src %s: %w: %w", name, src, err, blockdev.ErrInvalid)
	}
	if err := ext4.Fsck(ctx, tmp); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("import image %s: %w", name, err)
	}
	if err := p.publish(tmp, name); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("import image: %w", err)
	}
	p.log.Info("image imported", "image", name, "src", src)
	return p.Image(ctx, name)
}

// reserveNewImage claims name for an operation creating it. It fails with
// ErrExists when the image is stored or being created.
func (p *Pool) reserveNewImage(name, op string) (release func(), err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.checkOpen(); err != nil {
		return nil, err
	}
	if busy := p.imgBusy[name]; busy != "" {
		return nil, fmt.Errorf("image %s: %s in progress: %w", name, busy, blockdev.ErrExists)
	}
	if _, err := os.Stat(p.imagePath(name)); err == nil {
		return nil, fmt.Errorf("image %s: %w", name, blockdev.ErrExists)
	}
	p.imgBusy[name] = op
	return func() {
		p.mu.Lock()
		delete(p.imgBusy, name)
		p.mu.Unlock()
	}, nil
}

// publish renames tmp to image name, never replacing an existing image.
func (p *Pool) publish(tmp, name string) error {
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, p.imagePath(name), unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("image %s: %w", name, blockdev.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("image %s: rename into place: %w", name, err)
	}
	return nil
}

// Image describes stored image name.
func (p *Pool) Image(ctx context.Context, name string) (blockdev.ImageInfo, error) {
	if err := naming.Check("name", name); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("image: %w", err)
	}
	path := p.imagePath(name)
	var st unix.Stat_t
	err := unix.Stat(path, &st)
	if errors.Is(err, unix.ENOENT) {
		return blockdev.ImageInfo{}, fmt.Errorf("image %s: %w", name, blockdev.ErrNotFound)
	}
	if err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("image %s: %w", name, err)
	}
	return blockdev.ImageInfo{Name: name, Path: path, ApparentBytes: st.Size, AllocatedBytes: st.Blocks * 512}, nil
}

// Images lists the stored images, by name.
func (p *Pool) Images(ctx context.Context) ([]blockdev.ImageInfo, error) {
	entries, err := os.ReadDir(p.images)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []blockdev.ImageInfo
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".img")
		if !ok || naming.Check("name", name) != nil {
			continue
		}
		info, err := p.Image(ctx, name)
		if errors.Is(err, blockdev.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RemoveImage deletes image name; ErrInvalid while snapshots of it exist.
func (p *Pool) RemoveImage(ctx context.Context, name string) error {
	if err := naming.Check("name", name); err != nil {
		return fmt.Errorf("remove image: %w", err)
	}
	p.mu.Lock()
	if n := p.originRefs[name]; n > 0 {
		p.mu.Unlock()
		return fmt.Errorf("remove image %s: %d snapshots of it exist: %w", name, n, blockdev.ErrInvalid)
	}
	if busy := p.imgBusy[name]; busy != "" {
		p.mu.Unlock()
		return fmt.Errorf("remove image %s: %s in progress: %w", name, busy, blockdev.ErrInvalid)
	}
	p.imgBusy[name] = "remove"
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.imgBusy, name)
		p.mu.Unlock()
	}()
	_ = os.Remove(p.compactPath(name))
	err := os.Remove(p.imagePath(name))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove image %s: %w", name, blockdev.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("remove image %s: %w", name, err)
	}
	p.log.Info("image removed", "image", name)
	return nil
}

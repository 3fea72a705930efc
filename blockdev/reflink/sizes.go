package reflink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/warrenhq/warren/blockdev/internal/ext4"
	"github.com/warrenhq/warren/blockdev/internal/fsutil"
	"github.com/warrenhq/warren/blockdev/internal/naming"
)

// DefaultMaxSizeClasses is how many size classes a pool keeps when
// Config.MaxSizeClasses is 0.
const DefaultMaxSizeClasses = 16

// A size class is an image's filesystem grown (or shrunk) once to one disk
// size and kept as sizes/<image>/<bytes>.img, so every later snapshot of that
// image and size is a plain FICLONE with no resize2fs: a disk of any size
// starts as fast as one of the image's own size. The first snapshot of a new
// size makes the class (under the class's lock: concurrent first creates of
// that size make it once and wait for it); RemoveImage deletes an image's
// classes; the pool keeps at most maxClasses of them, evicting the least
// recently used one not in use. Classes are a cache: losing one costs one
// resize2fs on the next create of its size.
type sizeClass struct {
	image string
	size  int64
	file  string

	// mu is held exclusively while the class is made or deleted and shared
	// while a snapshot is cloned from it.
	mu    sync.RWMutex
	ready bool // guarded by mu: the file is complete
	gone  bool // guarded by mu: deleted (evicted, image removed, failed); look up again

	used uint64 // guarded by Pool.mu: the pool's use tick at the last lookup
}

type classKey struct {
	image string
	size  int64
}

func (p *Pool) classDir(image string) string { return filepath.Join(p.sizes, image) }

func (p *Pool) classFile(image string, size int64) string {
	return filepath.Join(p.classDir(image), strconv.FormatInt(size, 10)+".img")
}

// cloneSized clones image origin, at filesystem size size, to file through the
// origin's size class for size, making the class first if needed. from is the
// file a new class is made from (the image or its compact form).
func (p *Pool) cloneSized(ctx context.Context, file, origin, from string, size int64) error {
	for try := 0; try < 3; try++ {
		c := p.lookupClass(origin, size)
		c.mu.RLock()
		if c.ready {
			err := fsutil.Clone(file, c.file)
			c.mu.RUnlock()
			return err
		}
		gone := c.gone
		c.mu.RUnlock()
		if gone {
			continue
		}
		if err := p.makeClass(ctx, c, from); err != nil {
			return err
		}
	}
	return fmt.Errorf("size class %d of image %s: deleted while in use, three times", size, origin)
}

// lookupClass returns origin's class for size, registering a new (not yet
// made) one when there is none, and marks it used.
func (p *Pool) lookupClass(origin string, size int64) *sizeClass {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := classKey{origin, size}
	c := p.classes[k]
	if c == nil {
		c = &sizeClass{image: origin, size: size, file: p.classFile(origin, size)}
		p.classes[k] = c
	}
	p.tick++
	c.used = p.tick
	return c
}

// makeClass makes class c from the image file from, unless another create
// made it meanwhile, then evicts classes beyond the bound. On failure c is
// dropped and no file of it is left.
func (p *Pool) makeClass(ctx context.Context, c *sizeClass, from string) error {
	c.mu.Lock()
	if c.ready || c.gone {
		c.mu.Unlock()
		return nil
	}
	err := p.writeClass(ctx, c, from)
	if err != nil {
		c.gone = true
	} else {
		c.ready = true
	}
	c.mu.Unlock()
	if err != nil {
		p.dropClass(c)
		return fmt.Errorf("size class %d of image %s: %w", c.size, c.image, err)
	}
	p.log.Info("size class made", "image", c.image, "size", c.size)
	p.evictClasses()
	return nil
}

// writeClass clones from into a temporary file, resizes it to c.size and
// renames it to c.file. The caller holds c.mu.
func (p *Pool) writeClass(ctx context.Context, c *sizeClass, from string) error {
	if err := os.MkdirAll(p.classDir(c.image), 0o700); err != nil {
		return err
	}
	tmp := p.store.TmpPath("size")
	if err := fsutil.Clone(tmp, from); err != nil {
		return err
	}
	defer os.Remove(tmp) // a no-op once renamed
	if err := ctxErr(ctx, "resize"); err != nil {
		return err
	}
	if err := ext4.Resize(ctx, tmp, c.size); err != nil {
		return err
	}
	info, err := ext4.ReadSuperblock(tmp)
	if err != nil {
		return err
	}
	if info.Bytes() != c.size {
		return fmt.Errorf("resize2fs made %d bytes, not %d", info.Bytes(), c.size)
	}
	return os.Rename(tmp, c.file)
}

// dropClass forgets c (if it is still the registered class of its key).
func (p *Pool) dropClass(c *sizeClass) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k := (classKey{c.image, c.size}); p.classes[k] == c {
		delete(p.classes, k)
	}
}

// evictClasses deletes the least recently used classes while more than
// maxClasses exist, skipping ones in use (being made or cloned from).
func (p *Pool) evictClasses() {
	type entry struct {
		c    *sizeClass
		used uint64
	}
	p.mu.Lock()
	var all []entry
	for _, c := range p.classes {
		all = append(all, entry{c, c.used})
	}
	excess := len(all) - p.maxClasses
	p.mu.Unlock()
	if excess <= 0 {
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i].used < all[j].used })
	for _, e := range all {
		if excess == 0 {
			return
		}
		c := e.c
		if !c.mu.TryLock() {
			continue // in use
		}
		if !c.ready && !c.gone {
			c.mu.Unlock()
			continue // registered, about to be made
		}
		if c.ready {
			if err := os.Remove(c.file); err != nil && !errors.Is(err, os.ErrNotExist) {
				p.log.Warn("evicting a size class", "image", c.image, "size", c.size, "err", err)
				c.mu.Unlock()
				continue
			}
			c.ready, c.gone = false, true
			p.log.Info("size class evicted", "image", c.image, "size", c.size)
		}
		c.mu.Unlock()
		p.dropClass(c)
		excess--
	}
}

// removeClasses deletes image's classes. The image store calls it while
// RemoveImage holds the image, so no snapshot of it is being made.
func (p *Pool) removeClasses(image string) error {
	p.mu.Lock()
	var mine []*sizeClass
	for k, c := range p.classes {
		if k.image == image {
			mine = append(mine, c)
			delete(p.classes, k)
		}
	}
	p.mu.Unlock()
	for _, c := range mine {
		c.mu.Lock()
		c.ready, c.gone = false, true
		c.mu.Unlock()
	}
	return os.RemoveAll(p.classDir(image))
}

// loadClasses registers the classes a previous process left, oldest file
// first in use order, deletes those of images no longer stored, and evicts
// beyond the bound.
func (p *Pool) loadClasses() error {
	if err := os.MkdirAll(p.sizes, 0o700); err != nil {
		return err
	}
	dirs, err := os.ReadDir(p.sizes)
	if err != nil {
		return err
	}
	type found struct {
		c     *sizeClass
		mtime int64
	}
	var all []found
	for _, d := range dirs {
		image := d.Name()
		if naming.Check("name", image) != nil {
			continue
		}
		if _, err := os.Stat(p.store.Path(image)); errors.Is(err, os.ErrNotExist) {
			if err := os.RemoveAll(p.classDir(image)); err != nil {
				return err
			}
			continue
		}
		files, err := os.ReadDir(p.classDir(image))
		if err != nil {
			return err
		}
		for _, f := range files {
			s, ok := strings.CutSuffix(f.Name(), ".img")
			size, err := strconv.ParseInt(s, 10, 64)
			info, ierr := f.Info()
			if !ok || err != nil || size <= 0 || ierr != nil {
				continue
			}
			c := &sizeClass{image: image, size: size, file: p.classFile(image, size), ready: true}
			all = append(all, found{c, info.ModTime().UnixNano()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mtime < all[j].mtime })
	for _, f := range all {
		p.tick++
		f.c.used = p.tick
		p.classes[classKey{f.c.image, f.c.size}] = f.c
	}
	p.evictClasses()
	return nil
}

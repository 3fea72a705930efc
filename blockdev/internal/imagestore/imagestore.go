// Package imagestore is the template image store both disk pool backends
// share: the images/ directory of stored ext4 image files under a pool
// directory, importing into it, describing, listing and removing images,
// publishing a new image (a flatten's result) without ever replacing one, the
// loop of EnsureImageSizes, and the bookkeeping that keeps these operations
// apart from each other, from growing an image and from the snapshots made of
// an image.
//
// Layout under the pool directory:
//
//	images/<name>.img              stored images
//	compact/<name>.img             with Config.Compact: images' forms from before a grow
//	tmp/<prefix>-<op>-<rand>.img   in-progress imports, flattens and grows
//
// # Locking
//
// A Store has no lock of its own: its state (which operation holds an image,
// how many snapshots each image has) is guarded by the pool's mutex,
// Config.Mu, so a pool checks and changes its own state (its snapshots, its
// closed flag) and the store's in one critical section. Methods documented
// "the caller holds Mu" must be called with it held; every other method takes
// it itself, briefly, and must be called without it.
//
// An image is held by at most one operation at a time ("import", "flatten",
// "remove", "grow"): creating an image fails with ErrExists while it is stored
// or held; removing it fails with ErrInvalid while it is held or has
// snapshots. What a backend allows a snapshot create or a grow to overlap with
// is the backend's choice (Busy, ClaimGrow).
package imagestore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/ext4"
	"github.com/warrenhq/warren/blockdev/internal/fsutil"
	"github.com/warrenhq/warren/blockdev/internal/naming"
)

// Config configures a Store.
type Config struct {
	Dir     string // the pool directory (absolute, symlinks resolved)
	Prefix  string // the pool's prefix, marking its temporary files
	Compact bool   // keep images' forms from before a grow in compact/ (RemoveImage deletes them too)
	// Mu is the pool's mutex; it guards the store's state.
	Mu *sync.Mutex
	// CheckOpen fails (with ErrUnavailable) once the pool is closed. It is
	// called with Mu held, before an operation creates an image.
	CheckOpen func() error
	Log       *slog.Logger // the pool's logger
	// OnRemove, when set, deletes what the pool keeps of image name besides
	// the image (e.g. reflink's size classes). RemoveImage calls it without
	// Mu while it holds the image and no snapshot of it exists; an error
	// fails the remove before the image file is deleted.
	OnRemove func(name string) error
}

// Store is a pool's image store.
type Store struct {
	images, compact, tmp string // compact is "" without Config.Compact
	prefix               string
	mu                   *sync.Mutex
	checkOpen            func() error
	onRemove             func(name string) error
	log                  *slog.Logger

	busy map[string]string // image name -> operation holding it; guarded by mu
	refs map[string]int    // snapshots (made or being made) per image; guarded by mu
}

// New creates the store's directories under cfg.Dir and returns the store.
func New(cfg Config) (*Store, error) {
	s := &Store{
		images:    filepath.Join(cfg.Dir, "images"),
		tmp:       filepath.Join(cfg.Dir, "tmp"),
		prefix:    cfg.Prefix,
		mu:        cfg.Mu,
		checkOpen: cfg.CheckOpen,
		onRemove:  cfg.OnRemove,
		log:       cfg.Log,
		busy:      make(map[string]string),
		refs:      make(map[string]int),
	}
	dirs := []string{s.images, s.tmp}
	if cfg.Compact {
		s.compact = filepath.Join(cfg.Dir, "compact")
		dirs = append(dirs, s.compact)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Dir returns the images directory.
func (s *Store) Dir() string { return s.images }

// TmpDir returns the directory of temporary files.
func (s *Store) TmpDir() string { return s.tmp }

// Path returns the file of image name.
func (s *Store) Path(name string) string { return filepath.Join(s.images, name+".img") }

// CompactPath is where image name's form from before EnsureImageSizes grew it
// is kept (with Config.Compact).
func (s *Store) CompactPath(name string) string { return filepath.Join(s.compact, name+".img") }

// TmpPath returns a fresh temporary file name for operation op.
func (s *Store) TmpPath(op string) string {
	var b [8]byte
	rand.Read(b[:])
	return filepath.Join(s.tmp, s.prefix+"-"+op+"-"+hex.EncodeToString(b[:])+".img")
}

// Busy returns the operation holding image name, or "". The caller holds Mu.
func (s *Store) Busy(name string) string { return s.busy[name] }

// Ref counts one more snapshot (made or being made) of image name: the image
// cannot be removed until Unref. The caller holds Mu (or the pool is not yet
// shared).
func (s *Store) Ref(name string) { s.refs[name]++ }

// Unref undoes one Ref. The caller holds Mu.
func (s *Store) Unref(name string) {
	if s.refs[name]--; s.refs[name] <= 0 {
		delete(s.refs, name)
	}
}

// ImportImage copies src (reflinks when it is on the pool's filesystem) to a
// temporary file, checks it is ext4 and runs e2fsck -f -y on the copy, then moves
// it into place as image name.
func (s *Store) ImportImage(ctx context.Context, name, src string) (blockdev.ImageInfo, error) {
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
	release, err := s.ReserveNew(name, "import")
	if err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("import image: %w", err)
	}
	defer release()

	tmp := s.TmpPath("import")
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
	if err := s.Publish(tmp, name); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("import image: %w", err)
	}
	s.log.Info("image imported", "image", name, "src", src)
	return s.Image(ctx, name)
}

// ReserveNew claims name for operation op, which creates it, until release is
// called. It fails with ErrUnavailable once the pool is closed and with
// ErrExists when the image is stored or held by another operation.
func (s *Store) ReserveNew(name, op string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if busy := s.busy[name]; busy != "" {
		return nil, fmt.Errorf("image %s: %s in progress: %w", name, busy, blockdev.ErrExists)
	}
	if _, err := os.Stat(s.Path(name)); err == nil {
		return nil, fmt.Errorf("image %s: %w", name, blockdev.ErrExists)
	}
	s.busy[name] = op
	return s.releaser(name), nil
}

// releaser returns the function ending the hold on image name.
func (s *Store) releaser(name string) func() {
	return func() {
		s.mu.Lock()
		delete(s.busy, name)
		s.mu.Unlock()
	}
}

// Publish renames tmp to image name, never replacing an existing image.
func (s *Store) Publish(tmp, name string) error {
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, s.Path(name), unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("image %s: %w", name, blockdev.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("image %s: rename into place: %w", name, err)
	}
	return nil
}

// Image describes stored image name.
func (s *Store) Image(ctx context.Context, name string) (blockdev.ImageInfo, error) {
	if err := naming.Check("name", name); err != nil {
		return blockdev.ImageInfo{}, fmt.Errorf("image: %w", err)
	}
	path := s.Path(name)
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
func (s *Store) Images(ctx context.Context) ([]blockdev.ImageInfo, error) {
	entries, err := os.ReadDir(s.images)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []blockdev.ImageInfo
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".img")
		if !ok || naming.Check("name", name) != nil {
			continue
		}
		info, err := s.Image(ctx, name)
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

// RemoveImage deletes image name (and its compact form); ErrInvalid while
// snapshots of it exist or another operation holds it.
func (s *Store) RemoveImage(ctx context.Context, name string) error {
	if err := naming.Check("name", name); err != nil {
		return fmt.Errorf("remove image: %w", err)
	}
	s.mu.Lock()
	if n := s.refs[name]; n > 0 {
		s.mu.Unlock()
		return fmt.Errorf("remove image %s: %d snapshots of it exist: %w", name, n, blockdev.ErrInvalid)
	}
	if busy := s.busy[name]; busy != "" {
		s.mu.Unlock()
		return fmt.Errorf("remove image %s: %s in progress: %w", name, busy, blockdev.ErrInvalid)
	}
	s.busy[name] = "remove"
	s.mu.Unlock()
	defer s.releaser(name)()
	if _, err := os.Stat(s.Path(name)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove image %s: %w", name, blockdev.ErrNotFound)
	}
	if s.onRemove != nil {
		if err := s.onRemove(name); err != nil {
			return fmt.Errorf("remove image %s: %w", name, err)
		}
	}
	if s.compact != "" {
		_ = os.Remove(s.CompactPath(name))
	}
	err := os.Remove(s.Path(name))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove image %s: %w", name, blockdev.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("remove image %s: %w", name, err)
	}
	s.log.Info("image removed", "image", name)
	return nil
}

// GrowFunc grows stored image name to a filesystem of size bytes (a multiple
// of ext4.BlockSize), or leaves it when it is that large already.
type GrowFunc func(ctx context.Context, name string, size int64) error

// EnsureSizes is the loop of EnsureImageSizes: it rounds minBytes down to
// 4 KiB and calls grow for every stored image, one at a time, stopping at the
// first failure or when ctx ends.
func (s *Store) EnsureSizes(ctx context.Context, minBytes int64, grow GrowFunc) error {
	size := minBytes / ext4.BlockSize * ext4.BlockSize
	if size <= 0 {
		return fmt.Errorf("ensure image sizes: minBytes %d: below one block: %w", minBytes, blockdev.ErrInvalid)
	}
	images, err := s.Images(ctx)
	if err != nil {
		return fmt.Errorf("ensure image sizes: %w", err)
	}
	for _, img := range images {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ensure image sizes: %w", err)
		}
		if err := grow(ctx, img.Name, size); err != nil {
			return fmt.Errorf("ensure image sizes: %w", err)
		}
	}
	return nil
}

// ClaimGrow claims stored image name for growing it until release is called.
// ok is false when the image must not be grown now: with a nil error when it
// is being removed (nothing to grow), with ErrUnavailable while another
// operation holds it, and, when inPlace (the grow rewrites the very file
// snapshots of the image read), with ErrInvalid while snapshots of it exist.
func (s *Store) ClaimGrow(name string, inPlace bool) (release func(), ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if busy := s.busy[name]; busy != "" {
		if busy == "remove" {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("grow image %s: %s in progress: %w", name, busy, blockdev.ErrUnavailable)
	}
	if n := s.refs[name]; inPlace && n > 0 {
		return nil, false, fmt.Errorf("grow image %s: %d snapshots of it exist (grow images at start): %w", name, n, blockdev.ErrInvalid)
	}
	s.busy[name] = "grow"
	return s.releaser(name), true, nil
}

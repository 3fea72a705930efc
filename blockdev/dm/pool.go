// Package dm is the blockdev.Pool backend built on the device-mapper snapshot
// target, driven through its ioctls (no dmsetup, no udev needed).
//
// A snapshot of image I sized S is, bottom up:
//
//	/dev/loopA   images/I.img attached read-only, shared by every snapshot of I
//	             (loop.Shared, reference-counted, detached at zero)
//	<prefix>-<name>@ext   only when S exceeds the image: linear over loopA, then
//	             the "zero" target up to S (read-only)
//	/dev/loopB   cow/<prefix>-<name>.cow, a sparse file sized by cowBytes so the
//	             exception store can never overflow (see cow.go)
//	<prefix>-<name>       "snapshot <origin> <loopB> P 8": the device handed out,
//	             node /dev/mapper/<prefix>-<name>
//
// and its ext4 filesystem is resized offline to exactly S (rounded down to 4 KiB)
// right after creation. Layout under Config.Dir:
//
//	images/<name>.img              stored images
//	cow/<prefix>-<name>.cow        snapshots' exception stores
//	tmp/<prefix>-<op>-<rand>.img   in-progress imports and flattens
//
// Snapshot state lives in memory; a restarted process removes what the previous
// one left with CleanupStale.
package dm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/fsutil"
	"github.com/warrenhq/warren/blockdev/internal/imagestore"
	"github.com/warrenhq/warren/blockdev/internal/naming"
	"github.com/warrenhq/warren/blockdev/loop"
)

var _ blockdev.Pool = (*Pool)(nil)

// Config configures a dm pool.
type Config struct {
	Dir    string       // pool directory: images, CoW files, temporary files
	Prefix string       // marks this pool's dm devices, CoW and temporary files; [A-Za-z0-9_]{1,32}
	Logger *slog.Logger // nil discards logs
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.Dir == "" {
		return fmt.Errorf("dm config: dir: empty: %w", blockdev.ErrInvalid)
	}
	if err := naming.CheckPrefix(c.Prefix); err != nil {
		return fmt.Errorf("dm config: %w", err)
	}
	return nil
}

// Pool is a device-mapper disk pool.
type Pool struct {
	dir, prefix string
	cow         string // dir/cow
	log         *slog.Logger
	origins     loop.Shared // read-only loop devices of images, by image path

	mu     sync.Mutex
	store  *imagestore.Store // images/ and tmp/; its state is guarded by mu
	snaps  map[string]*snap  // by snapshot name, including ones being created
	closed bool
}

// snap is one snapshot. op serialises Create, Remove and Flatten on it.
type snap struct {
	op    sync.Mutex
	info  blockdev.Snapshot // guarded by op
	ready bool              // guarded by Pool.mu; false while being created
	gone  bool              // guarded by op; set when removed or failed to create
	// What exists of the device stack, guarded by op; teardown clears each
	// field as it removes the part.
	imagePath  string // the origin image file (the loop.Shared key)
	originLoop string // set while holding a reference on the image's loop device
	ext        bool   // the @ext device may exist
	cowFile    bool   // the CoW file exists
	cowDev     string // the CoW file's loop device
	dev        bool   // the snapshot dm device may exist
}

// Open checks that device-mapper is usable (Available) and opens the pool in
// cfg.Dir, creating its directories.
func Open(ctx context.Context, cfg Config) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := Available(); err != nil {
		return nil, fmt.Errorf("open dm pool %s: %w", cfg.Dir, err)
	}
	dir, err := fsutil.ResolveDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("open dm pool %s: %w", cfg.Dir, err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pool{
		dir: dir, prefix: cfg.Prefix,
		cow:   filepath.Join(dir, "cow"),
		log:   log.With("pool", "dm", "dir", dir, "prefix", cfg.Prefix),
		snaps: make(map[string]*snap),
	}
	p.store, err = imagestore.New(imagestore.Config{
		Dir: dir, Prefix: cfg.Prefix,
		Mu: &p.mu, CheckOpen: p.checkOpen, Log: p.log,
	})
	if err == nil {
		err = os.MkdirAll(p.cow, 0o700)
	}
	if err != nil {
		return nil, fmt.Errorf("open dm pool %s: %w", dir, err)
	}
	return p, nil
}

// Backend returns "dm".
func (p *Pool) Backend() string { return "dm" }

// Dir returns the pool directory (absolute, symlinks resolved).
func (p *Pool) Dir() string { return p.dir }

// Close marks the pool closed: later calls that create fail with
// ErrUnavailable. Snapshots, their devices and the shared origin loop devices
// stay in place (CleanupStale in the next process removes them).
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}

func (p *Pool) cowPath(name string) string { return filepath.Join(p.cow, p.prefix+"-"+name+".cow") }

// devName is snapshot name's dm device: <prefix>-<name>, or, when that would
// leave no room for the @ext suffix within the kernel's 127 bytes, the name's
// head, '~' and 16 hex digits of its SHA-256. '~' and '@' are not name
// characters, so no two snapshots' devices can collide.
func (p *Pool) devName(name string) string {
	const room = nameLen - 1 - len(extSuffix)
	full := p.prefix + "-" + name
	if len(full) <= room {
		return full
	}
	sum := sha256.Sum256([]byte(name))
	tail := "~" + hex.EncodeToString(sum[:8])
	return full[:room-len(tail)] + tail
}

// extName is snapshot name's origin-ext device.
func (p *Pool) extName(name string) string { return p.devName(name) + extSuffix }

const extSuffix = "@ext"

// checkOpen fails with ErrUnavailable after Close. Callers hold p.mu.
func (p *Pool) checkOpen() error {
	if p.closed {
		return fmt.Errorf("dm pool %s: closed: %w", p.dir, blockdev.ErrUnavailable)
	}
	return nil
}

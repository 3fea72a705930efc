// Package reflink is the blockdev.Pool backend for filesystems with reflinks
// (XFS reflink=1, btrfs): a snapshot is an FICLONE clone of its image, resized
// offline to the requested disk size when that differs, attached to a loop device.
//
// Layout under Config.Dir:
//
//	images/<name>.img              stored images
//	compact/<name>.img             images' forms from before EnsureImageSizes
//	                               grew them (reflink clones: no extra blocks);
//	                               smaller disks start from them and grow, far
//	                               cheaper than shrinking
//	sizes/<name>/<bytes>.img       size classes: the image resized once to a
//	                               disk size other than its own, cloned by
//	                               every later snapshot of that size (sizes.go)
//	snapshots/<prefix>-<name>.img  snapshot clones (origin in xattr user.warren.origin)
//	tmp/<prefix>-<op>-<rand>.img   in-progress imports, flattens, grows and size classes
//
// Snapshot state lives on disk (the clone files and the loop devices backed by
// them), so a restarted process finds its snapshots at Open and CleanupStale
// removes them.
package reflink

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/fsutil"
	"github.com/warrenhq/warren/blockdev/internal/imagestore"
	"github.com/warrenhq/warren/blockdev/internal/naming"
)

var _ blockdev.Pool = (*Pool)(nil)

// Config configures a reflink pool.
type Config struct {
	Dir    string       // pool directory on a reflink-capable filesystem
	Prefix string       // marks this pool's snapshot and temporary files; [A-Za-z0-9_]{1,32}
	Logger *slog.Logger // nil discards logs
	// MaxSizeClasses bounds the size classes kept (least recently used
	// evicted first); 0 means DefaultMaxSizeClasses.
	MaxSizeClasses int
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.Dir == "" {
		return fmt.Errorf("reflink config: dir: empty: %w", blockdev.ErrInvalid)
	}
	if err := naming.CheckPrefix(c.Prefix); err != nil {
		return fmt.Errorf("reflink config: %w", err)
	}
	if c.MaxSizeClasses < 0 {
		return fmt.Errorf("reflink config: max size classes %d: negative: %w", c.MaxSizeClasses, blockdev.ErrInvalid)
	}
	return nil
}

// Pool is a reflink disk pool.
type Pool struct {
	dir, prefix string
	snapshots   string // dir/snapshots
	log         *slog.Logger

	mu     sync.Mutex
	store  *imagestore.Store // images/, compact/ and tmp/; its state is guarded by mu
	snaps  map[string]*snap  // by snapshot name, including ones being created
	closed bool

	sizes      string                  // dir/sizes
	maxClasses int                     // bound on len(classes)
	classes    map[classKey]*sizeClass // guarded by mu
	tick       uint64                  // use counter for the classes' LRU; guarded by mu
}

// snap is one snapshot. op serialises Create, Remove and Flatten on it.
type snap struct {
	op    sync.Mutex
	info  blockdev.Snapshot // guarded by op
	ready bool              // guarded by Pool.mu; false while being created
	gone  bool              // guarded by op; set when removed or failed to create
}

// Open opens (creating the directories of) the pool in cfg.Dir and loads the
// snapshots a previous process left there. The directory's filesystem must
// support FICLONE; Open does not check (blockdev/auto does).
func Open(ctx context.Context, cfg Config) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := fsutil.ResolveDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("open reflink pool %s: %w", cfg.Dir, err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pool{
		dir: dir, prefix: cfg.Prefix,
		snapshots:  filepath.Join(dir, "snapshots"),
		log:        log.With("pool", "reflink", "dir", dir),
		snaps:      make(map[string]*snap),
		sizes:      filepath.Join(dir, "sizes"),
		maxClasses: cfg.MaxSizeClasses,
		classes:    make(map[classKey]*sizeClass),
	}
	if p.maxClasses == 0 {
		p.maxClasses = DefaultMaxSizeClasses
	}
	// Growing an image keeps its compact form (grow.go).
	p.store, err = imagestore.New(imagestore.Config{
		Dir: dir, Prefix: cfg.Prefix, Compact: true,
		Mu: &p.mu, CheckOpen: p.checkOpen, Log: p.log,
		OnRemove: p.removeClasses,
	})
	if err == nil {
		err = os.MkdirAll(p.snapshots, 0o700)
	}
	if err != nil {
		return nil, fmt.Errorf("open reflink pool %s: %w", dir, err)
	}
	if err := p.loadClasses(); err != nil {
		return nil, fmt.Errorf("open reflink pool %s: size classes: %w", dir, err)
	}
	if err := p.load(); err != nil {
		return nil, fmt.Errorf("open reflink pool %s: %w", dir, err)
	}
	return p, nil
}

// Backend returns "reflink".
func (p *Pool) Backend() string { return "reflink" }

// Dir returns the pool directory (absolute, symlinks resolved).
func (p *Pool) Dir() string { return p.dir }

// Close marks the pool closed: later creates fail with ErrUnavailable.
// Snapshots stay attached.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}

func (p *Pool) snapPath(name string) string {
	return filepath.Join(p.snapshots, p.prefix+"-"+name+".img")
}

// checkOpen fails with ErrUnavailable after Close. Callers hold p.mu.
func (p *Pool) checkOpen() error {
	if p.closed {
		return fmt.Errorf("reflink pool %s: closed: %w", p.dir, blockdev.ErrUnavailable)
	}
	return nil
}

func ctxErr(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Package auto opens a node's disk pool with the backend the host supports:
// device-mapper when /dev/mapper/control exists and the snapshot target works;
// else reflink in DataDir/pool when that directory's filesystem supports FICLONE;
// else reflink over a sparse XFS file (DataDir/pool.xfs, mkfs.xfs -m reflink=1)
// loop-mounted at DataDir/pool, re-mounted at every start.
package auto

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/naming"
)

// Backends accepted by Config.Backend.
const (
	BackendAuto    = "auto"
	BackendDM      = "dm"
	BackendReflink = "reflink"
)

// DefaultPoolFileSize is the apparent size of the sparse XFS pool file.
const DefaultPoolFileSize int64 = 200 << 30

// Config configures Open.
type Config struct {
	DataDir      string       // the node's data dir; the pool lives in DataDir/pool
	Prefix       string       // the pool's ownership prefix, [A-Za-z0-9_]{1,32}
	Backend      string       // auto (default), dm or reflink
	PoolFileSize int64        // apparent size of DataDir/pool.xfs when created; default DefaultPoolFileSize
	Logger       *slog.Logger // nil discards logs
	// MaxSizeClasses bounds the reflink backend's size classes (see
	// reflink.Config); 0 is its default. The dm backend has none.
	MaxSizeClasses int
}

// Validate checks cfg and fills its defaults.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("pool config: data dir: empty: %w", blockdev.ErrInvalid)
	}
	if err := naming.CheckPrefix(c.Prefix); err != nil {
		return fmt.Errorf("pool config: %w", err)
	}
	switch c.Backend {
	case "":
		c.Backend = BackendAuto
	case BackendAuto, BackendDM, BackendReflink:
	default:
		return fmt.Errorf("pool config: backend %q: want auto, dm or reflink: %w", c.Backend, blockdev.ErrInvalid)
	}
	if c.PoolFileSize == 0 {
		c.PoolFileSize = DefaultPoolFileSize
	}
	if c.PoolFileSize < 300<<20 {
		return fmt.Errorf("pool config: pool file size %d: below 300 MiB (the XFS minimum): %w", c.PoolFileSize, blockdev.ErrInvalid)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Open opens the pool of cfg.DataDir with the configured backend.
func Open(ctx context.Context, cfg Config) (blockdev.Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("open pool: data dir %s: %w", cfg.DataDir, err)
	}
	cfg.DataDir = dataDir
	switch cfg.Backend {
	case BackendDM:
		if err := dmAvailable(); err != nil {
			return nil, fmt.Errorf("open pool: backend dm: %w", err)
		}
		return openDM(ctx, cfg)
	case BackendReflink:
		return openReflink(ctx, cfg)
	}
	dmErr := dmAvailable()
	if dmErr == nil {
		return openDM(ctx, cfg)
	}
	cfg.Logger.Info("dm backend unavailable, trying reflink", "reason", dmErr)
	p, err := openReflink(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: no backend works here (dm: %v; reflink: %w): %w", dmErr, err, blockdev.ErrUnavailable)
	}
	return p, nil
}

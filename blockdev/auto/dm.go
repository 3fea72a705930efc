package auto

import (
	"context"
	"path/filepath"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/dm"
)

// dmAvailable reports whether the device-mapper backend can run here:
// /dev/mapper/control exists and the snapshot target works.
func dmAvailable() error { return dm.Available() }

// openDM opens the dm pool in DataDir/pool.
func openDM(ctx context.Context, cfg Config) (blockdev.Pool, error) {
	p, err := dm.Open(ctx, dm.Config{Dir: filepath.Join(cfg.DataDir, "pool"), Prefix: cfg.Prefix, Logger: cfg.Logger})
	if err != nil {
		return nil, err // not a nil *dm.Pool inside a non-nil interface
	}
	return p, nil
}

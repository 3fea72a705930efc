package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox/image"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// BaseTemplate is the platform template every team can start from.
const BaseTemplate = "base"

// ensureBase makes sure the platform template "base" exists and this node's
// pool holds its image. Nodes started at once against an empty database agree
// through a Postgres advisory lock (see forming.go): one builds it (Debian
// minbase via debootstrap, or busybox; cached in the data dir, so a restart or
// a lost image never rebuilds it), the others wait and pull its image from
// that peer. It returns once the image is here; n.forming reports progress
// to /readyz.
func (n *Node) ensureBase(ctx context.Context) error {
	cfg, pool := n.cfg, n.pool
	f := &baseFormer{
		st: n.store, node: n.ID, state: &n.forming, log: n.log,
		have: func(ctx context.Context, tpl id.TemplateID) (bool, error) {
			_, err := pool.Image(ctx, tpl.String())
			if errors.Is(err, blockdev.ErrNotFound) {
				return false, nil
			}
			return err == nil, err
		},
		build: func(ctx context.Context) error { return n.buildBase(ctx) },
		pull:  n.cluster.EnsureImage,
		reimport: func(ctx context.Context, tpl id.TemplateID) error {
			return reimportBase(ctx, n.store, pool, n.ID, tpl, cfg.DataDir, cfg.BaseImage, n.log)
		},
		poll: 500 * time.Millisecond, pullFor: 2 * time.Minute,
	}
	if err := f.run(ctx); err != nil {
		return err
	}
	if err := pool.EnsureImageSizes(ctx, cfg.DefaultDiskSizeMB<<20); err != nil {
		return fmt.Errorf("growing stored images: %w", err)
	}
	return nil
}

// buildBase builds (or takes from the cache) the base image, imports it and
// records the template with this node as its first replica. The caller holds
// the base lock.
func (n *Node) buildBase(ctx context.Context) error {
	cached, err := baseImage(ctx, n.cfg.DataDir, n.cfg.BaseImage, n.log)
	if err != nil {
		return err
	}
	tid := id.NewTemplateID()
	info, err := n.pool.ImportImage(ctx, tid.String(), cached)
	if err != nil {
		return fmt.Errorf("importing the base image: %w", err)
	}
	if _, err := n.service.RecordImage(ctx, info, db.CreateTemplateParams{
		ID: tid, TeamID: id.PlatformTeamID, Name: BaseTemplate, Type: "image", Vcpus: 1, MemoryMb: 512,
	}); err != nil {
		_ = n.pool.RemoveImage(context.Background(), tid.String())
		return fmt.Errorf("recording the base template: %w", err)
	}
	n.log.Info("base template built", "template", tid, "bytes", info.ApparentBytes)
	return nil
}

// reimportBase imports this node's own (cached or rebuilt) base image under
// the existing template's ID: the row exists but this node lost the image and
// no peer could give it.
func reimportBase(ctx context.Context, st *store.Store, pool blockdev.Pool, nid id.NodeID, tpl id.TemplateID, dataDir, mode string, log *slog.Logger) error {
	cached, err := baseImage(ctx, dataDir, mode, log)
	if err != nil {
		return err
	}
	info, err := pool.ImportImage(ctx, tpl.String(), cached)
	if err != nil {
		return fmt.Errorf("importing the base image: %w", err)
	}
	sum, err := sandboxes.Checksum(info.Path)
	if err == nil {
		err = store.Map(st.UpsertTemplateReplica(ctx, db.UpsertTemplateReplicaParams{
			TemplateID: tpl, NodeID: nid, Path: info.Path, Bytes: info.ApparentBytes, Checksum: sum}))
	}
	if err != nil {
		_ = pool.RemoveImage(context.Background(), tpl.String())
		return err
	}
	return nil
}

// baseImage returns the cached base image file, building it when missing.
func baseImage(ctx context.Context, dataDir, mode string, log *slog.Logger) (string, error) {
	dir := filepath.Join(dataDir, "cache")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	try := []string{mode}
	if mode == "auto" {
		try = []string{"debian", "busybox"}
	}
	var errs []error
	for _, kind := range try {
		p := filepath.Join(dir, "base-"+kind+".img")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tmp := p + ".tmp"
		_ = os.Remove(tmp)
		var err error
		switch kind {
		case "debian":
			var mirror string
			if mirror, err = image.AptMirror(); err == nil {
				log.Info("building the base template from Debian minbase (debootstrap; takes a few minutes once)")
				err = image.BuildDebian(ctx, tmp, 2<<30, image.DefaultIDMap(), mirror)
			}
		case "busybox":
			err = image.BuildBusybox(ctx, tmp, 256<<20, image.DefaultIDMap())
		}
		if err == nil {
			return p, os.Rename(tmp, p)
		}
		_ = os.Remove(tmp)
		log.Warn("building the base image failed", "kind", kind, "err", err)
		errs = append(errs, fmt.Errorf("%s: %w", kind, err))
	}
	return "", fmt.Errorf("building the base image: %w", errors.Join(errs...))
}

// removeOrphanImages deletes stored images whose template no longer exists:
// a template deleted while this node was down. Images with other names are
// left alone.
func removeOrphanImages(ctx context.Context, st *store.Store, pool blockdev.Pool, log *slog.Logger) error {
	imgs, err := pool.Images(ctx)
	if err != nil {
		return err
	}
	for _, img := range imgs {
		tid, err := id.ParseTemplateID(img.Name)
		if err != nil {
			continue
		}
		if _, err := st.GetTemplate(ctx, tid); !errors.Is(store.Map(err), store.ErrNotFound) {
			continue
		}
		if err := pool.RemoveImage(ctx, img.Name); err != nil {
			log.Warn("removing the image of a deleted template", "image", img.Name, "err", err)
			continue
		}
		log.Info("removed the image of a deleted template", "image", img.Name)
	}
	return nil
}

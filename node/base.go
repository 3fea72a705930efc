package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox/image"
	"github.com/warrenhq/warren/sandbox/service"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// BaseTemplate is the platform template every team can start from.
const BaseTemplate = "base"

// ensureBase makes sure the platform template "base" exists and this node's
// pool holds its image: built on first start (Debian minbase via debootstrap, or
// busybox) and cached in the data dir, so a restart or a lost image never
// rebuilds it.
func ensureBase(ctx context.Context, st *store.Store, pool blockdev.Pool, svc *service.Service, nid id.NodeID, dataDir, mode string, log *slog.Logger) error {
	tpl, err := st.GetTemplateByTeamAndName(ctx, db.GetTemplateByTeamAndNameParams{Name: BaseTemplate, TeamID: id.PlatformTeamID})
	switch {
	case err == nil:
		if _, err := pool.Image(ctx, tpl.ID.String()); err == nil {
			return nil
		} else if !errors.Is(err, blockdev.ErrNotFound) {
			return err
		}
	case !errors.Is(store.Map(err), store.ErrNotFound):
		return store.Map(err)
	}
	cached, err := baseImage(ctx, dataDir, mode, log)
	if err != nil {
		return err
	}
	if !tpl.ID.IsZero() {
		// The row exists but this node lost the image: re-import under its ID.
		info, err := pool.ImportImage(ctx, tpl.ID.String(), cached)
		if err != nil {
			return fmt.Errorf("importing the base image: %w", err)
		}
		sum, err := service.Checksum(info.Path)
		if err != nil {
			return err
		}
		return store.Map(st.UpsertTemplateReplica(ctx, db.UpsertTemplateReplicaParams{
			TemplateID: tpl.ID, NodeID: nid, Path: info.Path, Bytes: info.ApparentBytes, Checksum: sum}))
	}
	tid := id.NewTemplateID()
	info, err := pool.ImportImage(ctx, tid.String(), cached)
	if err != nil {
		return fmt.Errorf("importing the base image: %w", err)
	}
	if _, err := svc.RecordImage(ctx, info, db.CreateTemplateParams{
		ID: tid, TeamID: id.PlatformTeamID, Name: BaseTemplate, Type: "image", Vcpus: 1, MemoryMb: 512,
	}); err != nil {
		_ = pool.RemoveImage(context.Background(), tid.String())
		return fmt.Errorf("recording the base template: %w", err)
	}
	log.Info("base template ready", "template", tid, "bytes", info.ApparentBytes)
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

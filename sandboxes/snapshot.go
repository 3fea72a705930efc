package sandboxes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// Images is what the service needs of the pool's stored images.
type Images interface {
	RemoveImage(ctx context.Context, name string) error
}

// TemplateName is the rule for template names (the schema checks it too).
var TemplateName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Snapshot makes a team template called name from team's sandbox's disk. The
// sandbox is paused during the copy and resumed after.
func (s *Service) Snapshot(ctx context.Context, images Images, team id.TeamID, sb id.SandboxID, name string) (db.Template, error) {
	if !TemplateName.MatchString(name) {
		return db.Template{}, sandbox.Fieldf("name", "must be 1-63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit")
	}
	row, err := s.Get(ctx, team, sb)
	if err != nil {
		return db.Template{}, err
	}
	if st := sandbox.Status(row.Status); st != sandbox.StatusRunning && st != sandbox.StatusPaused {
		return db.Template{}, fmt.Errorf("sandbox %s: %w: it is %s", sb, sandbox.ErrConflict, row.Status)
	}
	if _, err := s.st.GetTemplateByTeamAndName(ctx, db.GetTemplateByTeamAndNameParams{Name: name, TeamID: team}); err == nil {
		return db.Template{}, fmt.Errorf("template %q: %w: the name is taken", name, sandbox.ErrConflict)
	}
	if o, err := s.remote(ctx, row); err != nil {
		return db.Template{}, err
	} else if o != nil {
		tid, err := o.Snapshot(ctx, team, sb, name)
		if err != nil {
			return db.Template{}, err
		}
		tpl, err := s.st.GetTemplate(ctx, tid)
		return tpl, store.Map(err)
	}
	src, err := s.templateOf(ctx, row)
	if err != nil {
		return db.Template{}, err
	}
	return s.Capture(ctx, images, sb, db.CreateTemplateParams{
		TeamID: team, Name: name, Type: "snapshot",
		Vcpus: row.Vcpus, MemoryMb: row.MemoryMb, StartCmd: src.StartCmd, Healthcheck: src.Healthcheck,
	}, nil)
}

// Capture flattens sandbox sb's disk into a new image and records it as the
// template p (its ID is chosen here; size_bytes is the image's real size), with
// this node as a replica. then, when set, runs in the same transaction. On any
// failure the image is removed again.
func (s *Service) Capture(ctx context.Context, images Images, sb id.SandboxID, p db.CreateTemplateParams, then func(q *db.Queries, tpl db.Template) error) (db.Template, error) {
	p.ID = id.NewTemplateID()
	info, err := s.mgr.Snapshot(ctx, sb.String(), p.ID.String())
	if err != nil {
		return db.Template{}, err
	}
	tpl, err := s.recordImage(ctx, info, p, then)
	if err != nil {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if rerr := images.RemoveImage(cctx, p.ID.String()); rerr != nil {
			s.log.Error("removing the image of a failed capture", "template", p.ID, "err", rerr)
		}
		return db.Template{}, err
	}
	return tpl, nil
}

func (s *Service) templateOf(ctx context.Context, row db.Sandbox) (db.Template, error) {
	if row.TemplateID == nil {
		return db.Template{}, nil
	}
	tpl, err := s.st.GetTemplate(ctx, id.TemplateID(*row.TemplateID))
	if errors.Is(store.Map(err), store.ErrNotFound) {
		return db.Template{}, nil
	}
	return tpl, store.Map(err)
}

// RecordImage inserts a template row for a stored image and records this node
// as holding a replica, in one transaction. size_bytes is the image's real size.
func (s *Service) RecordImage(ctx context.Context, info blockdev.ImageInfo, p db.CreateTemplateParams) (db.Template, error) {
	return s.recordImage(ctx, info, p, nil)
}

func (s *Service) recordImage(ctx context.Context, info blockdev.ImageInfo, p db.CreateTemplateParams, then func(q *db.Queries, tpl db.Template) error) (db.Template, error) {
	sum, err := Checksum(info.Path)
	if err != nil {
		return db.Template{}, err
	}
	p.SizeBytes = info.ApparentBytes
	var tpl db.Template
	err = s.st.Tx(ctx, func(q *db.Queries) error {
		var err error
		if tpl, err = q.CreateTemplate(ctx, p); err != nil {
			if errors.Is(store.Map(err), store.ErrConflict) {
				return fmt.Errorf("template %q: %w: the name is taken", p.Name, sandbox.ErrConflict)
			}
			return store.Map(err)
		}
		if err := store.Map(q.UpsertTemplateReplica(ctx, db.UpsertTemplateReplicaParams{
			TemplateID: tpl.ID, NodeID: s.node, Path: info.Path, Bytes: info.ApparentBytes, Checksum: sum})); err != nil {
			return err
		}
		if then != nil {
			return then(q, tpl)
		}
		return nil
	})
	return tpl, err
}

// Checksum is the sha256 of a file, "sha256:<hex>".
func Checksum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("checksumming %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

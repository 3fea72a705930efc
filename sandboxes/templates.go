package sandboxes

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// DeleteTemplate removes a template: its row, its replica rows and this node's
// image. A team deletes its own templates; only an admin deletes platform
// ones. A template with live sandboxes cannot be deleted.
func (s *Service) DeleteTemplate(ctx context.Context, images Images, team id.TeamID, admin bool, tid id.TemplateID) error {
	tpl, err := s.st.GetTemplateByTeam(ctx, db.GetTemplateByTeamParams{ID: tid, TeamID: team})
	if errors.Is(store.Map(err), store.ErrNotFound) && admin {
		tpl, err = s.st.GetTemplate(ctx, tid)
	}
	if err != nil {
		if errors.Is(store.Map(err), store.ErrNotFound) {
			return fmt.Errorf("template %s: %w", tid, sandbox.ErrNotFound)
		}
		return store.Map(err)
	}
	if tpl.TeamID == id.PlatformTeamID && !admin {
		return fmt.Errorf("template %s: %w: platform templates are deleted by admins", tid, errForbidden)
	}
	u := tid.UUID()
	live, err := s.st.CountLiveSandboxesByTemplate(ctx, &u)
	if err != nil {
		return store.Map(err)
	}
	if live > 0 {
		return fmt.Errorf("template %s: %w: %d live sandboxes use it", tid, sandbox.ErrConflict, live)
	}
	reps, err := s.st.ListTemplateReplicas(ctx, tid)
	if err != nil {
		return store.Map(err)
	}
	if _, err := s.st.DeleteTemplateByID(ctx, tid); err != nil {
		return store.Map(err)
	}
	// The row is gone, so nothing new starts from the image; remove it here
	// and on every other node that holds a replica.
	cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := images.RemoveImage(cctx, tid.String()); err != nil && !errors.Is(err, blockdev.ErrNotFound) {
		s.log.Error("removing a deleted template's image", "template", tid, "err", err)
	}
	if s.cluster != nil {
		for _, r := range reps {
			if r.NodeID == s.node {
				continue
			}
			if err := s.cluster.DeleteImage(cctx, r.NodeID, tid); err != nil {
				// The image is orphaned there; that node's next start
				// removes images without a template (see the node's
				// startup), so a down node does not block the delete.
				s.log.Warn("removing a deleted template's image on a peer", "template", tid, "node", r.NodeID, "err", err)
			}
		}
	}
	return nil
}

// errForbidden marks an operation the caller may not do.
var errForbidden = errors.New("forbidden")

// IsForbidden reports whether err says the caller may not do it.
func IsForbidden(err error) bool { return errors.Is(err, errForbidden) }

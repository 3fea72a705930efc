package sandboxes

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// ListRequest filters a team's sandboxes (builds excluded), newest first
// unless OldestFirst.
type ListRequest struct {
	Statuses []sandbox.Status // none: every status
	Template string           // a template name; "" for any
	Metadata map[string]string
	// After is the last sandbox of the previous page; zero starts at the
	// newest.
	After       id.SandboxID
	Limit       int // 1-1000
	OldestFirst bool
}

// List returns team's sandboxes matching req in creation order (IDs are
// UUIDv7), newest first unless req.OldestFirst.
func (s *Service) List(ctx context.Context, team id.TeamID, req ListRequest) ([]db.Sandbox, error) {
	if req.Limit < 1 || req.Limit > 1000 {
		return nil, sandbox.Fieldf("limit", "must be between 1 and 1000, got %d", req.Limit)
	}
	p := db.ListSandboxesParams{TeamID: team, Statuses: []string{}, Metadata: []byte("{}"), Lim: int32(req.Limit)}
	for _, st := range req.Statuses {
		p.Statuses = append(p.Statuses, string(st))
	}
	if req.Template != "" {
		p.TemplateName = &req.Template
	}
	if len(req.Metadata) > 0 {
		md, err := json.Marshal(req.Metadata)
		if err != nil {
			return nil, fmt.Errorf("encoding the metadata filter: %w", err)
		}
		p.Metadata = md
	}
	if !req.After.IsZero() {
		u := req.After.UUID()
		p.Cursor = &u
	}
	if req.OldestFirst {
		rows, err := s.st.ListSandboxesOldestFirst(ctx, db.ListSandboxesOldestFirstParams(p))
		return rows, store.Map(err)
	}
	rows, err := s.st.ListSandboxes(ctx, p)
	return rows, store.Map(err)
}

package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/warrenhq/warren/e2b/envd"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store"
)

// envdHandler builds E2B's in-sandbox API for this node: requests are
// authorised by the sandbox's access token (the cluster's signer, the same
// on every node) and the sandbox's row names the team; calls reach the
// agent through the sandbox service, relayed to the owner node.
func (n *Node) envdHandler(log *slog.Logger) (http.Handler, error) {
	cfg := envd.DefaultConfig()
	cfg.Logger = log.With("component", "envd")
	cfg.Agents = n.service
	cfg.AccessToken = func(sb id.SandboxID) string {
		// The token at the row's claim generation (warm pools); an
		// unknown sandbox gets generation 0's, which its calls then fail
		// to find.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		row, err := n.store.GetSandbox(ctx, sb)
		if err != nil {
			return n.signer.AccessToken(sb)
		}
		return n.signer.AccessTokenGen(sb, row.TokenGen)
	}
	cfg.Authorize = func(ctx context.Context, sb id.SandboxID, tok string) (id.TeamID, error) {
		row, err := n.store.GetSandbox(ctx, sb)
		if err != nil {
			if !n.signer.CheckAccessToken(sb, tok) {
				return id.TeamID{}, fmt.Errorf("sandbox %s: %w", sb, envd.ErrDenied)
			}
			if err = store.Map(err); errors.Is(err, store.ErrNotFound) {
				return id.TeamID{}, fmt.Errorf("sandbox %s: %w", sb, sandboxes.ErrNotFound)
			}
			return id.TeamID{}, err
		}
		if !n.signer.CheckAccessTokenGen(sb, row.TokenGen, tok) {
			return id.TeamID{}, fmt.Errorf("sandbox %s: %w", sb, envd.ErrDenied)
		}
		return row.TeamID, nil
	}
	return envd.New(cfg)
}

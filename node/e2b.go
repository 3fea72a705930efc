package node

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/e2b"
	"github.com/warrenhq/warren/id"
)

// openE2B builds the E2B control plane over the node's sandbox service. srv
// is read when a request comes (the API server is built after its Config,
// which carries this handler).
func (n *Node) openE2B(srv **api.Server) (*e2b.Handler, error) {
	key, err := loadClusterKey(n.cfg)
	if err != nil {
		return nil, fmt.Errorf("--cluster-key: %w", err)
	}
	auth := func(ctx context.Context, apiKey string) (e2b.Caller, error) {
		team, kid, err := (*srv).APIKeyTeam(ctx, apiKey)
		if errors.Is(err, api.ErrInvalidAPIKey) {
			return e2b.Caller{}, e2b.ErrUnauthenticated
		}
		return e2b.Caller{Team: team, Key: kid}, err
	}
	audit := func(reqID string, c e2b.Caller, action string, sb id.SandboxID) {
		(*srv).AuditAPIKey(reqID, c.Team, c.Key, action, sb)
	}
	return e2b.New(e2b.DefaultConfig(), n.service, auth, envdAccessToken(key), audit, n.log)
}

// envdAccessToken returns the per-sandbox envd access token: an HMAC of the
// sandbox ID under a key derived from the cluster key, so every node of the
// cluster makes and can check the same token.
func envdAccessToken(clusterKey []byte) e2b.AccessToken {
	m := hmac.New(sha256.New, clusterKey)
	m.Write([]byte("warren e2b envd access token"))
	derived := m.Sum(nil)
	return func(sb id.SandboxID) string {
		m := hmac.New(sha256.New, derived)
		m.Write([]byte(sb.String()))
		return hex.EncodeToString(m.Sum(nil))
	}
}

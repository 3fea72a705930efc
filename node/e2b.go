package node

import (
	"context"
	"errors"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/e2b"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox/metrics"
)

// openE2B builds the E2B control plane over the node's sandbox service; the
// envdAccessToken it answers is the cluster signer's per-sandbox token,
// which envd (envdHandler) checks. srv
// is read when a request comes (the API server is built after its Config,
// which carries this handler).
func (n *Node) openE2B(srv **api.Server) (*e2b.Handler, error) {
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
	cfg := e2b.DefaultConfig()
	// The SDK reaches envd at https://49983-<id>.<domain> when it is told a
	// domain; on the default (localhost, no TLS) it must be given
	// E2B_SANDBOX_URL instead, so no domain is answered.
	if d := n.cfg.SandboxDomain; d != "localhost" {
		cfg.Domain = d
	}
	h, err := e2b.New(cfg, n.service, auth, n.signer.AccessTokenGen, audit, n.log)
	if err != nil {
		return nil, err
	}
	h.SetMetrics(e2bMetrics{n})
	return h, nil
}

// e2bMetrics gives the E2B API a sandbox's kept samples, from whichever
// node runs it (as GET /v1/sandboxes/{id}/metrics does).
type e2bMetrics struct{ n *Node }

func (m e2bMetrics) SandboxSamples(ctx context.Context, team id.TeamID, sb id.SandboxID, since time.Time) ([]metrics.Sample, error) {
	v, err := nodeMetrics{m.n}.SandboxMetrics(ctx, team, sb, since)
	return v.Series, err
}

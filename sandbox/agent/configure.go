package agent

import (
	"context"
	"fmt"
	"os"
	"strings"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

// Configure implements agentv1.AgentServer: a warm pool's claim hands the
// sandbox to its new owner. The agent's own environment gains env: every
// later process starts from it (see buildEnv).
func (s *server) Configure(_ context.Context, req *agentv1.ConfigureRequest) (*agentv1.ConfigureResponse, error) {
	for k, v := range req.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, invalid("env %q: names must be non-empty without '=' or NUL; values without NUL", k)
		}
	}
	for k, v := range req.Env {
		if err := os.Setenv(k, v); err != nil {
			return nil, fmt.Errorf("setenv %s: %w", k, err)
		}
	}
	return &agentv1.ConfigureResponse{}, nil
}

// Configure adds env to the agent's environment; later processes inherit it.
func (c *Client) Configure(ctx context.Context, env map[string]string) error {
	if _, err := c.rpc.Configure(ctx, &agentv1.ConfigureRequest{Env: env}); err != nil {
		return fmt.Errorf("agent %s: configure: %w", c.socket, err)
	}
	return nil
}

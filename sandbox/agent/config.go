package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

// DefaultSocketPath is where the agent listens inside a sandbox; the host
// bind-mounts a per-sandbox directory onto /run/warren.
const DefaultSocketPath = "/run/warren/agent.sock"

// Config configures Run.
type Config struct {
	// SocketPath is the unix socket to serve on (created with mode 0600;
	// a stale socket there is removed first).
	SocketPath string
	// Root is the directory file calls resolve in ("/" by default). Exec
	// runs in the agent's own filesystem view; it only reads the users of
	// Root/etc/passwd.
	Root string
	// Logger receives the agent's logs (slog.Default() when nil).
	Logger *slog.Logger
	// ShutdownGrace is how long processes get between SIGTERM and SIGKILL
	// when the agent stops (default 5s).
	ShutdownGrace time.Duration
}

// DefaultConfig returns the configuration of an agent inside a sandbox.
func DefaultConfig() Config {
	return Config{SocketPath: DefaultSocketPath, Root: "/", ShutdownGrace: 5 * time.Second}
}

// withDefaults fills the zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Root == "" {
		c.Root = d.Root
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = d.ShutdownGrace
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.SocketPath == "" {
		return errors.New("agent config: SocketPath is required")
	}
	if !filepath.IsAbs(c.Root) {
		return fmt.Errorf("agent config: Root %q must be an absolute path", c.Root)
	}
	if c.ShutdownGrace < 0 {
		return fmt.Errorf("agent config: ShutdownGrace %v is negative", c.ShutdownGrace)
	}
	return nil
}

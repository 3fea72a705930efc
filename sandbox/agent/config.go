package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

// Config configures Run.
type Config struct {
	// ListenFD is an inherited unix stream socket, bound by whoever started
	// the agent but not listening: the agent calls listen(2) on it itself, so
	// a client's SO_PEERCRED names the agent's process. This is how a
	// sandbox's agent is started: the node binds the socket in a host
	// directory the sandbox cannot see (fd 3, runc --preserve-fds). 0 = none.
	ListenFD int
	// SocketPath is a unix socket path to create and serve on instead of
	// ListenFD (mode 0600; a stale socket there is removed first). For tests
	// and tools run outside a sandbox.
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

// DefaultConfig returns the defaults of every field but the socket, which
// the caller must name (ListenFD or SocketPath).
func DefaultConfig() Config {
	return Config{Root: "/", ShutdownGrace: 5 * time.Second}
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
	switch {
	case c.ListenFD == 0 && c.SocketPath == "":
		return errors.New("agent config: ListenFD or SocketPath is required")
	case c.ListenFD != 0 && c.SocketPath != "":
		return errors.New("agent config: ListenFD and SocketPath are exclusive")
	case c.ListenFD < 0 || c.ListenFD > 0 && c.ListenFD < 3:
		return fmt.Errorf("agent config: ListenFD %d must be an inherited descriptor (3 or above)", c.ListenFD)
	}
	if !filepath.IsAbs(c.Root) {
		return fmt.Errorf("agent config: Root %q must be an absolute path", c.Root)
	}
	if c.ShutdownGrace < 0 {
		return fmt.Errorf("agent config: ShutdownGrace %v is negative", c.ShutdownGrace)
	}
	return nil
}

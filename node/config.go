// Package node assembles a Warren node: its configuration (defaults and validation),
// the Open/Close lifecycle that starts and stops every subsystem in order, and the
// embedded defaults of `warren dev` (a private Postgres, the bootstrap admin). It
// implements no subsystem itself.
package node

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/warrenhq/warren/sandbox/metrics"
	"github.com/warrenhq/warren/sandboxes"
)

// Config is a node's configuration. Start from DefaultConfig.
type Config struct {
	// DataDir holds everything the node keeps: node ID, pool, private Postgres.
	DataDir string
	// DatabaseURL points at the cluster's Postgres. Empty in dev mode starts a
	// private one under DataDir/pg.
	DatabaseURL string
	// HTTPAddr is where the REST API and the UI listen.
	HTTPAddr string
	// SandboxDomain is the domain whose subdomains <port>-<sandbox id>.<domain>
	// reach a sandbox's port on an origin of their own (--sandbox-domain).
	// The API and UI must not be served on a name under it.
	SandboxDomain string
	// Dev enables the embedded defaults (private Postgres when DatabaseURL is empty).
	Dev bool
	// AdminEmail is the bootstrap admin's email.
	AdminEmail string
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// LogJSON selects JSON log lines (default text for dev, JSON for node).
	LogJSON bool
	// Pool selects the disk pool backend: auto, dm or reflink.
	Pool string
	// DefaultDiskSizeMB is the size every stored image is grown to at start
	// (sparsely), so most sandboxes need no resize.
	DefaultDiskSizeMB int64
	// Bridge and Subnet are the sandbox network.
	Bridge string
	Subnet string
	// EgressAllow are IPv4 CIDRs inside the ranges denied to sandboxes by
	// default (private, link-local, CGNAT, …; netns.DefaultDenied) that
	// internet-enabled sandboxes may reach after all (--egress-allow).
	EgressAllow []string
	// BaseImage selects how the platform "base" template is made on first
	// start: auto (Debian minbase when an apt mirror is configured, else
	// busybox), debian or busybox.
	BaseImage string
	// AgentBinary is the static binary run as every sandbox's init (default:
	// this executable).
	AgentBinary string
	// TeardownNetwork removes the bridge and firewall rules on Close (tests and
	// uninstall); a node normally leaves them for its next start.
	TeardownNetwork bool
	// BuildWorkers is how many builds this node runs at once.
	BuildWorkers int
	// Cluster is how this node joins the others.
	Cluster ClusterConfig
	// Limits bound sandbox requests.
	Limits sandboxes.Limits
	// Metrics is the sandbox sampler's interval and history
	// (--metrics-interval, --metrics-history) and whether /metrics answers
	// without an admin key (--metrics-public).
	Metrics MetricsConfig
}

// MetricsConfig configures a node's metrics.
type MetricsConfig struct {
	Interval time.Duration
	History  time.Duration
	Public   bool
}

// ClusterConfig is the node's part in the cluster. `warren dev` is a single
// server that bootstraps itself on loopback ports.
type ClusterConfig struct {
	Server          bool     // run raft; may lead
	BootstrapExpect int      // servers: bootstrap once this many servers are seen
	Join            []string // gossip addresses of members to join
	Advertise       string   // the IP or host peers reach this node at
	GossipAddr      string   // bind address for gossip
	RaftAddr        string   // bind address for raft (servers)
	GRPCAddr        string   // bind address for node-to-node gRPC
	// Key is the base64 cluster key (`warren node keygen`). Empty: the key in
	// <data-dir>/cluster.key, made on first start.
	Key string
	// MaxConcurrentStarts bounds sandbox starts the scheduler places on one
	// node at once.
	MaxConcurrentStarts int
}

// DefaultDataDir is ~/.local/share/warren, or /var/lib/warren as root.
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/warren"
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "warren")
	}
	return filepath.Join(home, ".local", "share", "warren")
}

// DefaultConfig returns the defaults shared by `warren node` and `warren dev`.
func DefaultConfig() Config {
	return Config{
		DataDir:           DefaultDataDir(),
		HTTPAddr:          "127.0.0.1:8080",
		SandboxDomain:     "localhost",
		AdminEmail:        "admin@warren.local",
		LogLevel:          "info",
		Pool:              "auto",
		DefaultDiskSizeMB: 20480,
		Bridge:            "warren0",
		Subnet:            "10.88.0.0/16",
		BaseImage:         "auto",
		BuildWorkers:      2,
		Cluster: ClusterConfig{Server: true, BootstrapExpect: 1, GossipAddr: "127.0.0.1:0",
			RaftAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", MaxConcurrentStarts: 10},
		Limits:  sandboxes.DefaultLimits(),
		Metrics: MetricsConfig{Interval: metrics.DefaultConfig().Interval, History: metrics.DefaultConfig().History},
	}
}

// Validate checks the configuration, naming the offending setting.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir: is required"))
	} else if !filepath.IsAbs(c.DataDir) {
		abs, err := filepath.Abs(c.DataDir)
		if err != nil {
			errs = append(errs, fmt.Errorf("--data-dir: %w", err))
		}
		c.DataDir = abs
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("--http-addr: %q is not host:port: %w", c.HTTPAddr, err))
	}
	if d, err := validDomain(c.SandboxDomain); err != nil {
		errs = append(errs, fmt.Errorf("--sandbox-domain: %w", err))
	} else {
		c.SandboxDomain = d
	}
	if c.DatabaseURL == "" && !c.Dev {
		errs = append(errs, errors.New("--database-url (or WARREN_DATABASE_URL): is required for `warren node`; `warren dev` starts a private Postgres"))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("--database-url: must be a postgres:// URL"))
	}
	switch c.Pool {
	case "auto", "dm", "reflink":
	default:
		errs = append(errs, fmt.Errorf("--pool: %q is not auto, dm or reflink", c.Pool))
	}
	switch c.BaseImage {
	case "auto", "debian", "busybox":
	default:
		errs = append(errs, fmt.Errorf("--base-image: %q is not auto, debian or busybox", c.BaseImage))
	}
	if c.DefaultDiskSizeMB < 1024 {
		errs = append(errs, fmt.Errorf("--default-disk-size: must be at least 1024 MB, got %d", c.DefaultDiskSizeMB))
	}
	if c.BuildWorkers < 1 || c.BuildWorkers > 64 {
		errs = append(errs, fmt.Errorf("--build-workers: must be between 1 and 64, got %d", c.BuildWorkers))
	}
	if c.Limits.MinFreeDiskMB < 0 {
		errs = append(errs, fmt.Errorf("--min-free-disk: must not be negative, got %d", c.Limits.MinFreeDiskMB))
	}
	if err := c.Limits.Team.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Cluster.MaxConcurrentStarts < 1 {
		errs = append(errs, fmt.Errorf("--max-concurrent-starts: must be at least 1"))
	}
	mc := metrics.DefaultConfig()
	mc.Interval, mc.History = c.Metrics.Interval, c.Metrics.History
	if err := mc.Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, err := netip.ParsePrefix(c.Subnet); err != nil {
		errs = append(errs, fmt.Errorf("--subnet: %w", err))
	}
	if _, err := parseEgressAllow(c.EgressAllow); err != nil {
		errs = append(errs, err)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level: %q is not debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// validDomain checks that s is a DNS name (not an IP address) and returns
// it in lower case without a trailing dot.
func validDomain(s string) (string, error) {
	d := strings.ToLower(strings.TrimSuffix(s, "."))
	if d == "" {
		return "", errors.New("is required (a DNS name such as localhost or sandboxes.example.com)")
	}
	if len(d) > 200 {
		return "", fmt.Errorf("%q is longer than 200 characters (sandbox host names add a label to it)", s)
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return "", fmt.Errorf("%q is an IP address; sandbox hosts need a DNS name", s)
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("%q is not a DNS name (empty, over-long or hyphen-edged label %q)", s, label)
		}
		for _, r := range label {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return "", fmt.Errorf("%q is not a DNS name (label %q has %q)", s, label, r)
			}
		}
	}
	return d, nil
}

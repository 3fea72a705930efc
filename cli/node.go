package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/node"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "warren", node.Version)
			return nil
		},
	}
}

// nodeFlags binds the flags shared by `warren node` and `warren dev`.
func nodeFlags(cmd *cobra.Command, cfg *node.Config) {
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory for the node's state (pool, node ID, private Postgres)")
	f.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "address of the REST API and UI")
	f.StringVar(&cfg.SandboxDomain, "sandbox-domain", cfg.SandboxDomain, "domain under which http://<port>-<sandbox id>.<domain>:<http port> reaches a sandbox's port on its own origin; point a wildcard DNS record at the nodes")
	f.StringVar(&cfg.DatabaseURL, "database-url", os.Getenv("WARREN_DATABASE_URL"), "Postgres URL (env WARREN_DATABASE_URL)")
	f.StringVar(&cfg.AdminEmail, "admin-email", cfg.AdminEmail, "email of the admin created on first start")
	f.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	f.StringVar(&cfg.Pool, "pool", cfg.Pool, "disk pool backend: auto, dm or reflink")
	f.Int64Var(&cfg.DefaultDiskSizeMB, "default-disk-size", cfg.DefaultDiskSizeMB, "MB every stored image is grown to at start (sparse)")
	f.StringVar(&cfg.Bridge, "bridge", cfg.Bridge, "the sandbox network bridge")
	f.StringVar(&cfg.Subnet, "subnet", cfg.Subnet, "the sandbox subnet")
	f.StringVar(&cfg.Egress, "egress", cfg.Egress, "default for destinations an internet-enabled sandbox's own rules (allow_out/deny_out) do not name: allow or deny")
	f.StringVar(&cfg.EgressResolver, "egress-resolver", cfg.EgressResolver, "DNS server (ip[:port]) that resolves domain names in sandboxes' egress rules (default: the host's first nameserver)")
	f.StringArrayVar(&cfg.EgressAllow, "egress-allow", cfg.EgressAllow, "IPv4 CIDR in a range denied to sandboxes by default (private, link-local, CGNAT, …) that internet-enabled sandboxes may reach; repeatable")
	f.StringVar(&cfg.Runtime, "runtime", cfg.Runtime, "the default sandbox runtime: runc, gvisor, or auto (gvisor when its self-test passes, else runc)")
	f.StringVar(&cfg.BaseImage, "base-image", cfg.BaseImage, "how the base template is made on first start: auto, debian or busybox")
	f.Int64Var(&cfg.Limits.MaxDiskMB, "max-disk-size", cfg.Limits.MaxDiskMB, "largest disk_size_mb a sandbox may ask for")
	f.Int64Var(&cfg.Limits.MaxTimeoutSec, "max-timeout", cfg.Limits.MaxTimeoutSec, "largest timeout_sec a sandbox may ask for")
	f.IntVar(&cfg.BuildWorkers, "build-workers", cfg.BuildWorkers, "template builds this node runs at once")
	cc := &cfg.Cluster
	f.BoolVar(&cc.Server, "server", cc.Server, "run raft and take part in leader election")
	f.IntVar(&cc.BootstrapExpect, "bootstrap-expect", cc.BootstrapExpect, "servers: bootstrap the cluster once this many servers are seen")
	f.StringSliceVar(&cc.Join, "join", cc.Join, "gossip addresses (host:port) of cluster members to join")
	f.StringVar(&cc.Advertise, "advertise", cc.Advertise, "IP or host name peers reach this node at")
	f.StringVar(&cc.GossipAddr, "gossip-addr", cc.GossipAddr, "gossip bind address (UDP and TCP)")
	f.StringVar(&cc.RaftAddr, "raft-addr", cc.RaftAddr, "raft bind address (servers)")
	f.StringVar(&cc.GRPCAddr, "grpc-addr", cc.GRPCAddr, "node-to-node gRPC bind address")
	f.StringVar(&cc.Key, "cluster-key", os.Getenv("WARREN_CLUSTER_KEY"), "base64 cluster key from `warren node keygen` (env WARREN_CLUSTER_KEY; default: <data-dir>/cluster.key, made on first start)")
	f.IntVar(&cc.MaxConcurrentStarts, "max-concurrent-starts", cc.MaxConcurrentStarts, "sandbox starts the scheduler places on one node at once")
	f.Float64Var(&cfg.Limits.CPUOvercommit, "cpu-overcommit", cfg.Limits.CPUOvercommit, "vCPUs sandboxes may be promised per CPU of the host")
	f.Float64Var(&cfg.Limits.MemoryOvercommit, "memory-overcommit", cfg.Limits.MemoryOvercommit, "memory sandboxes may be promised per MB of the host")
	f.IntVar(&cfg.Limits.MaxSandboxes, "max-sandboxes", cfg.Limits.MaxSandboxes, "live sandboxes this node holds at most")
	f.Int64Var(&cfg.Limits.MinFreeDiskMB, "min-free-disk", cfg.Limits.MinFreeDiskMB, "MB the disk pool keeps free: below it the node takes no new sandboxes")
	tl := &cfg.Limits.Team
	f.Int64Var(&tl.Sandboxes, "team-max-sandboxes", tl.Sandboxes, "default per-team quota: live sandboxes (0 = unlimited; a team's own quota overrides it)")
	f.Float64Var(&tl.VCPUs, "team-max-vcpus", tl.VCPUs, "default per-team quota: vCPUs of live sandboxes (0 = unlimited)")
	f.Int64Var(&tl.MemoryMB, "team-max-memory-mb", tl.MemoryMB, "default per-team quota: memory MB of live sandboxes (0 = unlimited)")
	f.Int64Var(&tl.DiskMB, "team-max-disk-mb", tl.DiskMB, "default per-team quota: disk MB of live sandboxes (0 = unlimited)")
	f.DurationVar(&cfg.Metrics.Interval, "metrics-interval", cfg.Metrics.Interval, "time between samples of each sandbox's CPU, memory, disk and network")
	f.DurationVar(&cfg.Metrics.History, "metrics-history", cfg.Metrics.History, "how far back each sandbox's samples are kept")
	f.BoolVar(&cfg.Metrics.Public, "metrics-public", cfg.Metrics.Public, "serve /metrics (Prometheus) without an admin key")
}

func newDevCmd() *cobra.Command {
	cfg := node.DefaultConfig()
	cfg.Dev = true
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run one node with embedded defaults: private Postgres, local disk pool, base template, admin printed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNode(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	nodeFlags(cmd, &cfg)
	return cmd
}

func newNodeCmd() *cobra.Command {
	cfg := node.DefaultConfig()
	cfg.LogJSON = true
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run a Warren node against the cluster's Postgres",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNode(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	nodeFlags(cmd, &cfg)
	// `warren node ls|drain|undrain` are client commands under the daemon's name.
	cmd.AddCommand(nodeClientCmds()...)
	cmd.AddCommand(&cobra.Command{
		Use:   "keygen",
		Short: "Print a new cluster key (gossip encryption and node-to-node mTLS)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), cluster.GenerateKey())
			return nil
		},
	})
	return cmd
}

func newLogger(cfg node.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogJSON {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(node.NewLogHandler(h))
}

func runNode(ctx context.Context, cfg node.Config, stdout, stderr io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	n, err := node.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	printWelcome(stdout, n, cfg)
	werr := n.Wait(ctx)
	log.Info("shutting down")
	cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := n.Close(cctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return werr
}

func printWelcome(w io.Writer, n *node.Node, cfg node.Config) {
	url := "http://" + n.HTTPAddr()
	fmt.Fprintf(w, "\nWarren is ready at %s\n", url)
	if b := n.Bootstrap; b != nil {
		fmt.Fprintf(w, "  admin login: %s / %s\n", b.Email, b.Password)
		fmt.Fprintf(w, "  API key:     %s\n", b.APIKey)
		fmt.Fprintf(w, "  E2B API key: %s (E2B_API_KEY; E2B_API_URL=%s, see docs/E2B.md)\n", b.E2BAPIKey, url)
		fmt.Fprintf(w, "  team:        %s\n", b.TeamID)
		fmt.Fprintf(w, "  (shown once; saved to %s)\n", filepath.Join(cfg.DataDir, "bootstrap.json"))
		fmt.Fprintf(w, "  try: curl -H 'Authorization: Bearer %s' %s/v1/me\n\n", b.APIKey, url)
	} else {
		fmt.Fprintf(w, "  credentials from the first start are in %s\n\n", filepath.Join(cfg.DataDir, "bootstrap.json"))
	}
}

package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/warrenhq/warren/access"
	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/builder"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandbox/metrics"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
	"github.com/warrenhq/warren/store/embedpg"
	"github.com/warrenhq/warren/ui"
)

// Version is the node's version, set at build time.
var Version = "dev"

// Node is a running Warren node.
type Node struct {
	ID        id.NodeID
	cfg       Config
	log       *slog.Logger
	pg        *embedpg.Server // nil unless dev mode started one
	store     *store.Store
	pool      blockdev.Pool
	sandboxes *sandbox.Manager
	service   *sandboxes.Service
	builder   *builder.Builder
	sampler   *metrics.Sampler
	prom      *promMetrics
	cluster   *clusterNode
	egress    *egressWatch
	signer    *access.Signer
	cancel    context.CancelFunc
	bg        sync.WaitGroup
	http      *http.Server
	listener  net.Listener
	Bootstrap *api.BootstrapInfo // set when this start bootstrapped the cluster
	closers   []func(context.Context) error
	serveErr  chan error
	forming   formingState // what /readyz reports the node waits for
}

// Open starts every subsystem in order; on failure it stops what it started.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (n *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n = &Node{cfg: cfg, log: log, serveErr: make(chan error, 1)}
	started := n // the named result is nil by the time a failing return runs the defer
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = started.Close(cctx)
			n = nil
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	if n.ID, err = loadNodeID(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("node id: %w", err)
	}
	prefix := HostPrefix(n.ID)
	log = log.With("node", n.ID.String())
	n.log = log
	dbURL := cfg.DatabaseURL
	if dbURL == "" {
		pg, err := embedpg.Start(ctx, embedpg.Config{Dir: filepath.Join(cfg.DataDir, "pg"), Logger: log})
		if err != nil {
			return nil, fmt.Errorf("starting the private postgres: %w", err)
		}
		n.pg = pg
		n.closers = append(n.closers, func(context.Context) error { return pg.Stop() })
		if err := pg.CreateDatabase(ctx, "warren", ""); err != nil {
			return nil, err
		}
		dbURL = pg.URL("warren")
	}
	st, err := store.Open(ctx, dbURL, log)
	if err != nil {
		return nil, err
	}
	n.store = st
	n.closers = append(n.closers, func(context.Context) error { st.Close(); return nil })
	if err := st.Migrate(ctx); err != nil {
		return nil, err
	}
	if n.Bootstrap, err = api.Bootstrap(ctx, st, cfg.AdminEmail); err != nil {
		return nil, err
	}
	if n.signer, err = access.Load(ctx, st); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	row, err := st.UpsertNode(ctx, db.UpsertNodeParams{ID: n.ID, Name: host, HttpAddr: cfg.HTTPAddr, Role: "server"})
	if err != nil {
		return nil, store.Map(err)
	}
	if err := n.openSandboxes(ctx, prefix); err != nil {
		return nil, err
	}
	n.service.SetDraining(row.Draining)
	if err := n.openBuilder(ctx); err != nil {
		return nil, err
	}
	if err := n.openMetrics(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("--http-addr: %w", err)
	}
	n.listener = ln
	n.closers = append(n.closers, func(context.Context) error { ln.Close(); return nil })
	if err := n.openCluster(ctx, advertised(ln.Addr(), cfg.Cluster.Advertise)); err != nil {
		return nil, err
	}
	n.egress.watch(ctx)
	apiCfg := api.DefaultConfig()
	apiCfg.NodeVersion = Version
	apiCfg.NodeID = n.ID.String()
	apiCfg.UI = ui.Handler()
	apiCfg.SandboxDomain = cfg.SandboxDomain
	apiCfg.Signer = n.signer
	apiCfg.Readiness = n.readiness
	apiCfg.Metrics, apiCfg.Prometheus, apiCfg.MetricsPublic = nodeMetrics{n}, n.prom.handler(), cfg.Metrics.Public
	if apiCfg.Envd, err = n.envdHandler(log); err != nil {
		return nil, err
	}
	var srv *api.Server
	if apiCfg.E2B, err = n.openE2B(&srv); err != nil {
		return nil, err
	}
	srv = api.New(apiCfg, st, log, timedCreates{n.service, n.prom}, n.pool, n.builder, nodes{n})
	if n.Bootstrap != nil {
		n.Bootstrap.URL = "http://" + ln.Addr().String()
		if err := writeBootstrap(cfg.DataDir, n.Bootstrap); err != nil {
			return nil, err
		}
	}
	n.forming.set("base template")
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	n.http = hs
	errc := n.serveErr
	go func() { errc <- hs.Serve(ln) }()
	// hs, not n.http: n is the named result, nil when a failing return runs the closers.
	n.closers = append(n.closers, func(ctx context.Context) error { return hs.Shutdown(ctx) })
	// After serving, so /readyz says what this node waits for, and after
	// joining, so a node that did not build the base can pull it from one that did.
	if err := n.ensureBase(ctx); err != nil {
		return nil, err
	}
	log.Info("node ready", "http", "http://"+ln.Addr().String(), "data_dir", cfg.DataDir, "version", Version)
	return n, nil
}

// GossipAddr returns the address other nodes join this one at.
func (n *Node) GossipAddr() string { return n.cluster.c.GossipAddr() }

// RaftAddr returns the advertised raft address ("" unless this node is a server).
func (n *Node) RaftAddr() string { return n.cluster.c.RaftAddr() }

// RaftState returns the current raft term and leader ID as this node sees them.
func (n *Node) RaftState() (term uint64, leader string) {
	leader, _ = n.cluster.c.Leader()
	return n.cluster.c.Term(), leader
}

// Kill stops the node abruptly, as a crash would: gossip and raft stop without
// leaving, the API stops answering, and sandboxes keep running until the next
// start's cleanup. For tests of node failure; Close is still called after.
func (n *Node) Kill() {
	n.builder.Crash()
	_ = n.cluster.c.Shutdown()
	n.cluster.srv.Stop()
	_ = n.http.Close()
}

// HTTPAddr returns the address the API listens on.
func (n *Node) HTTPAddr() string { return n.listener.Addr().String() }

// Signer returns the node's signer of access tokens and port URLs (the
// same on every node of the cluster).
func (n *Node) Signer() *access.Signer { return n.signer }

// Store returns the node's store.
func (n *Node) Store() *store.Store { return n.store }

// Wait blocks until ctx is done or the HTTP server fails.
func (n *Node) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-n.serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("http server: %w", err)
	}
}

// Close stops every subsystem in reverse order of start.
func (n *Node) Close(ctx context.Context) error {
	var errs []error
	for i := len(n.closers) - 1; i >= 0; i-- {
		if err := n.closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	n.closers = nil
	return errors.Join(errs...)
}

// writeBootstrap stores the bootstrap credentials for scripts, readable by the
// owner only.
func writeBootstrap(dir string, info *api.BootstrapInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(dir, "bootstrap.json")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return os.Rename(tmp, p)
}

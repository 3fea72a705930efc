package node

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/warrenhq/warren/blockdev/auto"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandbox/netns"
	"github.com/warrenhq/warren/sandbox/runc"
	"github.com/warrenhq/warren/sandboxes"
)

// openSandboxes starts the disk pool, the sandbox network and runtime, removes
// what a crash left behind, reconciles this node's rows, grows stored images
// to the default disk size and starts the TTL reaper. The base template comes
// later, once the node serves and has joined (ensureBase).
func (n *Node) openSandboxes(ctx context.Context, prefix string) error {
	cfg, log := n.cfg, n.log
	pool, err := auto.Open(ctx, auto.Config{DataDir: cfg.DataDir, Prefix: prefix, Backend: cfg.Pool, Logger: log})
	if err != nil {
		return fmt.Errorf("disk pool: %w", err)
	}
	n.pool = pool
	n.closers = append(n.closers, func(context.Context) error { return pool.Close() })
	ncfg := netns.DefaultConfig()
	ncfg.Prefix, ncfg.Bridge, ncfg.Logger = prefix, cfg.Bridge, log
	ncfg.Subnet = netip.MustParsePrefix(cfg.Subnet)
	ncfg.EgressAllow, _ = parseEgressAllow(cfg.EgressAllow) // checked by Validate
	ncfg.Nameservers = sandbox.HostNameservers()
	net, err := netns.New(ctx, ncfg)
	if err != nil {
		return fmt.Errorf("sandbox network: %w", err)
	}
	n.egress = newEgressWatch(n, net)
	if err := n.egress.refresh(ctx); err != nil {
		return fmt.Errorf("sandbox network: %w", err)
	}
	if cfg.TeardownNetwork {
		n.closers = append(n.closers, net.Teardown)
	} else {
		n.closers = append(n.closers, net.Close)
	}
	// Sandbox root is host uid/gid 100000+ on every node; an account or
	// another user's subordinate range there would share files and signals
	// with every sandbox's root.
	ids := runc.IDMap{HostID: runc.DefaultIDBase, Size: runc.DefaultIDMapSize}
	idFiles := runc.DefaultIDFiles()
	idFiles.Owner = "warren"
	if err := runc.CheckIDRanges(ids, ids, idFiles); err != nil {
		return fmt.Errorf("sandbox id range: %w (sandboxes map to host ids %d-%d; move that account or subordinate range, or give the range to a user named warren in /etc/subuid and /etc/subgid)",
			err, ids.HostID, ids.HostID+ids.Size-1)
	}
	mgr, err := sandbox.New(sandbox.Config{Dir: filepath.Join(cfg.DataDir, "sandboxes"), Prefix: prefix,
		AgentBinary: cfg.AgentBinary, Logger: log}, pool, net)
	if err != nil {
		return err
	}
	n.sandboxes = mgr
	if err := mgr.CleanupStale(ctx); err != nil {
		return err
	}
	n.service = sandboxes.New(n.store, mgr, n.ID, cfg.Limits, log)
	n.service.SetDiskDirs(filepath.Join(cfg.DataDir, "pool"), cfg.DataDir)
	if err := n.service.Reconcile(ctx); err != nil {
		return fmt.Errorf("reconciling sandboxes: %w", err)
	}
	if err := removeOrphanImages(ctx, n.store, pool, log); err != nil {
		return fmt.Errorf("removing images of deleted templates: %w", err)
	}
	if err := pool.EnsureImageSizes(ctx, cfg.DefaultDiskSizeMB<<20); err != nil {
		return fmt.Errorf("growing stored images: %w", err)
	}
	bg, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		n.service.RunReaper(bg, 500*time.Millisecond)
	}()
	n.closers = append(n.closers, func(context.Context) error {
		cancel()
		n.bg.Wait()
		n.service.Shutdown()
		return mgr.Close()
	})
	return nil
}

package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/warrenhq/warren/builder"
	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/cluster/rpc"
	"github.com/warrenhq/warren/id"
	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
	nodev1 "github.com/warrenhq/warren/proto/node/v1"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store"
)

// clusterNode is this node's part in the cluster: membership and leadership
// (cluster.Cluster), node-to-node gRPC (cluster/rpc), the leader's scheduler
// and reconciler, and template replication. It implements sandboxes.Cluster.
type clusterNode struct {
	n    *Node
	c    *cluster.Cluster
	srv  *rpc.Server
	rpcs *rpc.Pool

	mu       sync.Mutex
	inflight map[id.NodeID][]*slot         // starts the leader placed and not yet ended, per node
	pulls    map[id.TemplateID]*sync.Mutex // one image pull per template at a time
}

var _ sandboxes.Cluster = (*clusterNode)(nil)

// loadClusterKey returns the configured key, or the one in
// <data-dir>/cluster.key (made on first start, mode 0600).
func loadClusterKey(cfg Config) ([]byte, error) {
	if cfg.Cluster.Key != "" {
		return cluster.ParseKey(cfg.Cluster.Key)
	}
	p := filepath.Join(cfg.DataDir, "cluster.key")
	if b, err := os.ReadFile(p); err == nil {
		return cluster.ParseKey(strings.TrimSpace(string(b)))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k := cluster.GenerateKey()
	if err := os.WriteFile(p, []byte(k+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", p, err)
	}
	return cluster.ParseKey(k)
}

// advertised turns a bound address into the one peers use: the --advertise
// host (when set) with the bound port.
func advertised(bound net.Addr, advertise string) string {
	host, port, _ := net.SplitHostPort(bound.String())
	if advertise != "" {
		host = advertise
	}
	return net.JoinHostPort(host, port)
}

// openCluster starts node-to-node gRPC, joins the cluster and registers the
// leader's tasks. httpAddr is the REST address gossiped for the nodes view.
func (n *Node) openCluster(ctx context.Context, httpAddr string) error {
	cfg := n.cfg.Cluster
	key, err := loadClusterKey(n.cfg)
	if err != nil {
		return fmt.Errorf("--cluster-key: %w", err)
	}
	cn := &clusterNode{n: n, inflight: map[id.NodeID][]*slot{}, pulls: map[id.TemplateID]*sync.Mutex{}}
	// Image pulls a crash cut short.
	if stale, err := rpc.RemoveStaleTemps(filepath.Join(n.cfg.DataDir, "pulls")); err == nil && len(stale) > 0 {
		n.log.Warn("removed half-pulled images", "files", stale)
	}
	gl, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("--grpc-addr: %w", err)
	}
	grpcAddr := advertised(gl.Addr(), cfg.Advertise)
	host, _, _ := net.SplitHostPort(grpcAddr)
	cn.srv, err = rpc.NewServer(rpc.ServerConfig{ClusterKey: key, NodeID: n.ID.String(), Addrs: []string{host}, Handler: nodeRPC{cn: cn}, Logger: n.log})
	if err != nil {
		gl.Close()
		return err
	}
	agentv1.RegisterAgentServer(cn.srv, agentRelay{svc: n.service})
	go func() {
		if err := cn.srv.Serve(gl); err != nil {
			n.log.Error("node gRPC server stopped", "err", err)
		}
	}()
	n.closers = append(n.closers, func(context.Context) error { cn.srv.Stop(); return nil })
	if cn.rpcs, err = rpc.NewPool(rpc.ClientConfig{ClusterKey: key, NodeID: n.ID.String(), Logger: n.log}); err != nil {
		return err
	}
	n.closers = append(n.closers, func(context.Context) error { cn.rpcs.Close(); return nil })

	ccfg := cluster.DefaultConfig()
	host2, _ := os.Hostname()
	ccfg.NodeID, ccfg.Name, ccfg.DataDir = n.ID.String(), trimName(host2), n.cfg.DataDir
	ccfg.GossipAddr, ccfg.RaftAddr = cfg.GossipAddr, cfg.RaftAddr
	if cfg.Advertise != "" {
		ccfg.AdvertiseGossip = net.JoinHostPort(cfg.Advertise, portOf(cfg.GossipAddr))
		ccfg.AdvertiseRaft = net.JoinHostPort(cfg.Advertise, portOf(cfg.RaftAddr))
	}
	ccfg.Server, ccfg.BootstrapExpect, ccfg.Join, ccfg.ClusterKey = cfg.Server, cfg.BootstrapExpect, cfg.Join, key
	if !cfg.Server {
		ccfg.BootstrapExpect = 0
	}
	ccfg.HTTPAddr, ccfg.GRPCAddr, ccfg.Version = httpAddr, grpcAddr, trimVersion(Version)
	ccfg.Capacity = cn.capacity
	ccfg.Logger = n.log.With("component", "cluster")
	c, err := cluster.Open(ctx, ccfg)
	if err != nil {
		return fmt.Errorf("joining the cluster: %w", err)
	}
	cn.c = c
	n.cluster = cn
	n.closers = append(n.closers, func(context.Context) error { return c.Close() })
	c.SetDrain(n.service.Draining())
	c.RegisterLeaderTask("builds", cn.fenced("builds", n.builder.Dispatch))
	c.RegisterLeaderTask("reconciler", cn.fenced("reconciler", cn.reconcile))
	n.service.SetCluster(cn)
	return nil
}

func portOf(hostport string) string {
	_, p, _ := net.SplitHostPort(hostport)
	return p
}

func trimName(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

func trimVersion(s string) string {
	if len(s) > 32 {
		return s[:32]
	}
	return s
}

// capacity is what this node gossips about itself.
func (cn *clusterNode) capacity() cluster.Capacity {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := cn.n.service.Capacity(ctx)
	if err != nil {
		return cluster.Capacity{}
	}
	return cluster.Capacity{
		FreeMilliCPU: uint64(max(0, c.VCPUsFree*1000)), FreeMemoryMB: uint64(max(0, c.MemoryMBFree)),
		FreeDiskBytes: uint64(max(0, c.DiskBytesFree)), RunningSandboxes: uint32(c.SandboxesRunning),
		MaxSandboxes: uint32(c.SandboxesMax), FreeBuildSlots: uint32(cn.n.builder.FreeSlots()),
	}
}

// member returns an alive member's meta.
func (cn *clusterNode) member(node id.NodeID) (cluster.Meta, error) {
	m, ok := cn.c.Member(node.String())
	if !ok || m.Status != cluster.StatusAlive {
		return cluster.Meta{}, fmt.Errorf("node %s: %w: it is not an alive member", node, sandbox.ErrUnavailable)
	}
	return m.Meta, nil
}

// client returns a gRPC client for an alive member.
func (cn *clusterNode) client(node id.NodeID) (nodev1.NodeClient, error) {
	m, err := cn.member(node)
	if err != nil {
		return nil, err
	}
	return cn.rpcs.Node(m.GRPCAddr)
}

// noLeader is the answer while the cluster has no leader.
var noLeader = &sandbox.UnavailableError{Message: "the cluster has no leader right now (an election is under way or too few servers are up); retry shortly"}

// Place asks the leader's scheduler for a node, retrying with jitter while
// there is no leader, up to a 5 s hold.
func (cn *clusterNode) Place(ctx context.Context, p sandboxes.Placement) (id.NodeID, error) {
	if p.IsBuild {
		// A build sandbox runs where its build was dispatched: here.
		return cn.n.ID, nil
	}
	hold := time.Now().Add(5 * time.Second)
	for {
		leader, ok := cn.c.Leader()
		if ok {
			if leader == cn.n.ID.String() {
				return cn.schedule(ctx, p)
			}
			lid, err := id.ParseNodeID(leader)
			if err == nil {
				var cl nodev1.NodeClient
				if cl, err = cn.client(lid); err == nil {
					var resp *nodev1.PlaceResponse
					req := &nodev1.PlaceRequest{TeamId: p.Team.String(), TemplateId: p.Template.String(),
						Vcpus: p.VCPUs, MemoryMb: p.MemoryMB, DiskSizeMb: p.DiskSizeMB, IsBuild: p.IsBuild}
					for _, x := range p.Exclude {
						req.ExcludeNodeIds = append(req.ExcludeNodeIds, x.String())
					}
					resp, err = cl.Place(ctx, req)
					if err == nil {
						return id.ParseNodeID(resp.NodeId)
					}
					if capErr := placeError(err); capErr != nil {
						return id.NodeID{}, capErr
					}
				}
			}
			cn.n.log.Warn("placement through the leader failed; retrying", "leader", leader, "err", err)
		}
		if time.Now().After(hold) {
			return id.NodeID{}, noLeader
		}
		t := time.NewTimer(time.Duration(100+rand.IntN(300)) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return id.NodeID{}, ctx.Err()
		case <-t.C:
		}
	}
}

// reconcile is the leader's loop: a node gossip declares dead gets its
// sandboxes marked lost and its running builds failed (fenced writes: it
// returns the fence's refusal once a newer leader took office).
func (cn *clusterNode) reconcile(ctx context.Context, term uint64) error {
	events, stop := cn.c.Subscribe()
	defer stop()
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	if err := cn.reconcileDead(ctx, term); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-events:
			if !ok {
				return nil
			}
			if e.Type != cluster.EventFail {
				continue
			}
		case <-t.C:
		}
		if err := cn.reconcileDead(ctx, term); err != nil {
			return err
		}
	}
}

// reconcileDead reconciles every member gossip declares dead. It returns only
// the fence's refusal; other failures are logged and retried next round.
func (cn *clusterNode) reconcileDead(ctx context.Context, term uint64) error {
	for _, m := range cn.c.Members() {
		if m.Status != cluster.StatusDead {
			continue
		}
		nid, err := id.ParseNodeID(m.ID)
		if err != nil {
			continue
		}
		lost, failed, err := cn.reconcileNode(ctx, term, nid)
		if errors.Is(err, store.ErrFenced) {
			return fmt.Errorf("reconciler: node %s: %w", m.ID, err)
		}
		if err != nil {
			cn.n.log.Warn("reconciler: recording a dead node's sandboxes and builds", "node", m.ID, "err", err)
			continue
		}
		if len(lost) > 0 || len(failed) > 0 {
			cn.n.log.Warn("dead node reconciled", "node", m.ID, "sandboxes_lost", len(lost), "builds_failed", len(failed))
		}
	}
	return nil
}

// buildTargets lists alive, undrained nodes with free build slots.
func (cn *clusterNode) buildTargets(ctx context.Context) []builder.Target {
	drained := cn.drainedNodes(ctx)
	var out []builder.Target
	for _, m := range cn.c.Members() {
		nid, err := id.ParseNodeID(m.ID)
		if err != nil || m.Status != cluster.StatusAlive || m.Meta.Drain || drained[nid] {
			continue
		}
		free := int(m.Meta.Capacity.FreeBuildSlots)
		if nid == cn.n.ID {
			free = cn.n.builder.FreeSlots()
		}
		if free > 0 {
			out = append(out, builder.Target{Node: nid, Free: free})
		}
	}
	return out
}

// drainedNodes reads the drain flags from Postgres, the system of record.
func (cn *clusterNode) drainedNodes(ctx context.Context) map[id.NodeID]bool {
	rows, err := cn.n.store.ListNodes(ctx)
	out := map[id.NodeID]bool{}
	if err != nil {
		return out
	}
	for _, r := range rows {
		if r.Draining {
			out[r.ID] = true
		}
	}
	return out
}

package node

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/id"
	nodev1 "github.com/warrenhq/warren/proto/node/v1"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandbox/metrics"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store"
)

// The node's metrics: the sandbox sampler, the JSON routes (api.Metrics)
// answered here or by the owner over gRPC (SandboxMetrics, NodeMetrics), and
// the Prometheus registry (prometheus.go).

// openMetrics starts the sampler over this node's sandboxes and builds the
// Prometheus registry; Close stops the sampler before the sandboxes close.
func (n *Node) openMetrics() error {
	mc := metrics.DefaultConfig()
	mc.Interval, mc.History, mc.Logger = n.cfg.Metrics.Interval, n.cfg.Metrics.History, n.log
	s, err := metrics.New(mc, targets{n.sandboxes})
	if err != nil {
		return err
	}
	n.sampler = s
	n.prom = newProm(n)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	n.closers = append(n.closers, func(context.Context) error {
		cancel()
		<-done
		return nil
	})
	return nil
}

// targets lists the runtime's sandboxes for the sampler.
type targets struct{ m *sandbox.Manager }

var _ metrics.Source = targets{}

func (t targets) Targets() []metrics.Target {
	rs := t.m.Running()
	out := make([]metrics.Target, len(rs))
	for i, r := range rs {
		out[i] = metrics.Target{ID: r.ID, Team: r.Team, CgroupPath: r.CgroupPath, HostVeth: r.HostVeth, Rootfs: r.Rootfs}
	}
	return out
}

// nodeMetrics answers the API's metrics routes.
type nodeMetrics struct{ n *Node }

var _ api.Metrics = nodeMetrics{}

func (v nodeMetrics) SandboxMetrics(ctx context.Context, team id.TeamID, sb id.SandboxID, since time.Time) (api.SandboxMetricsView, error) {
	row, err := v.n.service.Get(ctx, team, sb)
	if err != nil {
		return api.SandboxMetricsView{}, err
	}
	if !sandboxes.Status(row.Status).Live() {
		return api.SandboxMetricsView{}, fmt.Errorf("sandbox %s: %w: it is %s; metrics are kept only while a sandbox lives", sb, sandboxes.ErrConflict, row.Status)
	}
	if row.NodeID == nil || id.NodeID(*row.NodeID) == v.n.ID {
		return v.n.localSandboxMetrics(sb, since), nil
	}
	owner := id.NodeID(*row.NodeID)
	cl, err := v.n.cluster.client(owner)
	if err != nil {
		return api.SandboxMetricsView{}, ownerUnreachable
	}
	req := &nodev1.SandboxMetricsRequest{Sandbox: ref(team, sb)}
	if !since.IsZero() {
		req.SinceUnixNano = since.UnixNano()
	}
	resp, err := cl.SandboxMetrics(ctx, req)
	if err != nil {
		return api.SandboxMetricsView{}, fromOwner(err, sb)
	}
	out := api.SandboxMetricsView{SandboxID: sb, NodeID: owner, IntervalSec: float64(resp.IntervalMs) / 1000,
		Series: make([]metrics.Sample, len(resp.Samples))}
	for i, s := range resp.Samples {
		out.Series[i] = fromProtoSample(s)
	}
	if resp.Current != nil {
		cur := fromProtoSample(resp.Current)
		out.Current = &cur
	}
	return out, nil
}

func (n *Node) localSandboxMetrics(sb id.SandboxID, since time.Time) api.SandboxMetricsView {
	out := api.SandboxMetricsView{SandboxID: sb, NodeID: n.ID, IntervalSec: n.sampler.Interval().Seconds(), Series: []metrics.Sample{}}
	all, _ := n.sampler.Series(sb.String(), time.Time{})
	if len(all) > 0 {
		cur := all[len(all)-1]
		out.Current = &cur
	}
	for _, s := range all {
		if since.IsZero() || s.Time.After(since) {
			out.Series = append(out.Series, s)
		}
	}
	return out
}

func (v nodeMetrics) NodeMetrics(ctx context.Context, nid id.NodeID) (api.NodeMetricsView, error) {
	if nid == v.n.ID {
		return v.n.nodeSummary(ctx)
	}
	m, ok := v.n.cluster.c.Member(nid.String())
	if !ok {
		return api.NodeMetricsView{}, fmt.Errorf("node %s: %w", nid, store.ErrNotFound)
	}
	if m.Status != cluster.StatusAlive {
		return api.NodeMetricsView{}, &sandboxes.UnavailableError{Message: fmt.Sprintf("node %s is %s: it cannot report its load", nid, m.Status)}
	}
	cl, err := v.n.cluster.client(nid)
	if err != nil {
		return api.NodeMetricsView{}, &sandboxes.UnavailableError{Message: fmt.Sprintf("node %s is not reachable right now; retry shortly", nid)}
	}
	resp, err := cl.NodeMetrics(ctx, &nodev1.NodeMetricsRequest{})
	if err != nil {
		if c := status.Code(err); c == codes.Unavailable || c == codes.DeadlineExceeded {
			return api.NodeMetricsView{}, &sandboxes.UnavailableError{Message: fmt.Sprintf("node %s is not reachable right now; retry shortly", nid)}
		}
		return api.NodeMetricsView{}, fmt.Errorf("node metrics of %s: %w", nid, err)
	}
	return fromProtoNode(nid, resp), nil
}

// nodeSummary is this node's capacity, host load and sandbox totals.
func (n *Node) nodeSummary(ctx context.Context) (api.NodeMetricsView, error) {
	c, err := n.service.Capacity(ctx)
	if err != nil {
		return api.NodeMetricsView{}, err
	}
	v := api.NodeMetricsView{NodeID: n.ID, Time: time.Now().UTC(), IntervalSec: n.sampler.Interval().Seconds(), Capacity: c, Host: hostLoad()}
	for _, cur := range n.sampler.Currents() {
		t := &v.Sandboxes
		t.Sampled++
		t.CPUCoresUsed += cur.CPUCores()
		t.VCPUsLimit += cur.VCPUs
		t.MemoryUsedBytes += cur.MemoryUsedBytes
		t.MemoryLimitBytes += cur.MemoryLimitBytes
		t.DiskUsedBytes += cur.DiskUsedBytes
		t.DiskSizeBytes += cur.DiskSizeBytes
		t.NetRxBytes += cur.NetRxBytes
		t.NetTxBytes += cur.NetTxBytes
	}
	return v, nil
}

// hostLoad reads the load averages and available memory of the host.
func hostLoad() api.HostLoad {
	var h api.HostLoad
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			h.Load1, _ = strconv.ParseFloat(f[0], 64)
			h.Load5, _ = strconv.ParseFloat(f[1], 64)
			h.Load15, _ = strconv.ParseFloat(f[2], 64)
		}
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				h.MemoryAvailableBytes = kb << 10
			}
		}
	}
	return h
}

// SandboxMetrics answers the samples of a sandbox this node runs.
func (r nodeRPC) SandboxMetrics(ctx context.Context, req *nodev1.SandboxMetricsRequest) (*nodev1.SandboxMetricsResponse, error) {
	team, sb, err := parseRef(req.GetSandbox())
	if err != nil {
		return nil, err
	}
	n := r.cn.n
	row, err := n.service.Get(ctx, team, sb)
	if err != nil {
		return nil, grpcError(err)
	}
	if row.NodeID == nil || id.NodeID(*row.NodeID) != n.ID {
		return nil, status.Error(codes.NotFound, "sandbox not found")
	}
	var since time.Time
	if req.SinceUnixNano > 0 {
		since = time.Unix(0, req.SinceUnixNano)
	}
	v := n.localSandboxMetrics(sb, since)
	out := &nodev1.SandboxMetricsResponse{IntervalMs: n.sampler.Interval().Milliseconds(), Samples: make([]*nodev1.MetricsSample, len(v.Series))}
	for i, s := range v.Series {
		out.Samples[i] = toProtoSample(s)
	}
	if v.Current != nil {
		out.Current = toProtoSample(*v.Current)
	}
	return out, nil
}

// NodeMetrics answers this node's load.
func (r nodeRPC) NodeMetrics(ctx context.Context, _ *nodev1.NodeMetricsRequest) (*nodev1.NodeMetricsResponse, error) {
	v, err := r.cn.n.nodeSummary(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	c, h, s := v.Capacity, v.Host, v.Sandboxes
	return &nodev1.NodeMetricsResponse{NodeId: v.NodeID.String(), TimeUnixNano: v.Time.UnixNano(), IntervalMs: int64(v.IntervalSec * 1000),
		VcpusTotal: c.VCPUsTotal, VcpusFree: c.VCPUsFree, MemoryMbTotal: c.MemoryMBTotal, MemoryMbFree: c.MemoryMBFree,
		DiskBytesFree: c.DiskBytesFree, SandboxesRunning: int32(c.SandboxesRunning), SandboxesMax: int32(c.SandboxesMax),
		Load1: h.Load1, Load5: h.Load5, Load15: h.Load15, HostMemoryAvailableBytes: h.MemoryAvailableBytes,
		SandboxesSampled: int32(s.Sampled), CpuCoresUsed: s.CPUCoresUsed, VcpusLimit: s.VCPUsLimit,
		MemoryUsedBytes: s.MemoryUsedBytes, MemoryLimitBytes: s.MemoryLimitBytes, DiskUsedBytes: s.DiskUsedBytes,
		DiskSizeBytes: s.DiskSizeBytes, NetRxBytes: s.NetRxBytes, NetTxBytes: s.NetTxBytes}, nil
}

func fromProtoNode(nid id.NodeID, r *nodev1.NodeMetricsResponse) api.NodeMetricsView {
	v := api.NodeMetricsView{NodeID: nid, Time: time.Unix(0, r.TimeUnixNano).UTC(), IntervalSec: float64(r.IntervalMs) / 1000}
	v.Capacity.VCPUsTotal, v.Capacity.VCPUsFree = r.VcpusTotal, r.VcpusFree
	v.Capacity.MemoryMBTotal, v.Capacity.MemoryMBFree = r.MemoryMbTotal, r.MemoryMbFree
	v.Capacity.DiskBytesFree = r.DiskBytesFree
	v.Capacity.SandboxesRunning, v.Capacity.SandboxesMax = int(r.SandboxesRunning), int(r.SandboxesMax)
	v.Host = api.HostLoad{Load1: r.Load1, Load5: r.Load5, Load15: r.Load15, MemoryAvailableBytes: r.HostMemoryAvailableBytes}
	v.Sandboxes = api.SandboxesLoad{Sampled: int(r.SandboxesSampled), CPUCoresUsed: r.CpuCoresUsed, VCPUsLimit: r.VcpusLimit,
		MemoryUsedBytes: r.MemoryUsedBytes, MemoryLimitBytes: r.MemoryLimitBytes, DiskUsedBytes: r.DiskUsedBytes,
		DiskSizeBytes: r.DiskSizeBytes, NetRxBytes: r.NetRxBytes, NetTxBytes: r.NetTxBytes}
	return v
}

func toProtoSample(s metrics.Sample) *nodev1.MetricsSample {
	return &nodev1.MetricsSample{TimeUnixNano: s.Time.UnixNano(), CpuPercent: s.CPUPercent, Vcpus: s.VCPUs,
		MemoryUsedBytes: s.MemoryUsedBytes, MemoryLimitBytes: s.MemoryLimitBytes, DiskUsedBytes: s.DiskUsedBytes,
		DiskSizeBytes: s.DiskSizeBytes, NetRxBytes: s.NetRxBytes, NetTxBytes: s.NetTxBytes}
}

func fromProtoSample(p *nodev1.MetricsSample) metrics.Sample {
	return metrics.Sample{Time: time.Unix(0, p.TimeUnixNano).UTC(), CPUPercent: p.CpuPercent, VCPUs: p.Vcpus,
		MemoryUsedBytes: p.MemoryUsedBytes, MemoryLimitBytes: p.MemoryLimitBytes, DiskUsedBytes: p.DiskUsedBytes,
		DiskSizeBytes: p.DiskSizeBytes, NetRxBytes: p.NetRxBytes, NetTxBytes: p.NetTxBytes}
}

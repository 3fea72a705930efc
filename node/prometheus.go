package node

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store/db"
)

// promMetrics is the node's Prometheus registry: every sandbox's newest
// sample (sandbox/metrics), the node's sandboxes and builds by state and its
// capacity (read at each scrape), the creates it served, and the Go
// runtime's and process's own collectors.
type promMetrics struct {
	reg           *prometheus.Registry
	creates       *prometheus.CounterVec
	createSeconds prometheus.Histogram
}

func newProm(n *Node) *promMetrics {
	p := &promMetrics{
		reg: prometheus.NewRegistry(),
		creates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "warren_sandbox_creates_total",
			Help: "Sandbox creates this node's API served (wherever the sandbox was placed), by result (ok or error)."}, []string{"result"}),
		createSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "warren_sandbox_create_seconds",
			Help:    "Time from a create request to a running sandbox, for the creates this node's API served that succeeded.",
			Buckets: []float64{.05, .1, .2, .3, .5, .75, 1, 2, 5, 10, 30, 60}}),
	}
	p.creates.WithLabelValues("ok")
	p.creates.WithLabelValues("error")
	p.reg.MustRegister(p.creates, p.createSeconds, n.sampler.Collector(), nodeCollector{n: n, descs: newNodeDescs()},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return p
}

// handler serves the registry in the Prometheus text format.
func (p *promMetrics) handler() http.Handler {
	return promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{Timeout: 10 * time.Second})
}

// timedCreates is the node's sandbox service with each create counted and
// timed for /metrics.
type timedCreates struct {
	*sandboxes.Service
	p *promMetrics
}

func (t timedCreates) Create(ctx context.Context, req sandboxes.CreateRequest) (db.Sandbox, error) {
	start := time.Now()
	row, err := t.Service.Create(ctx, req)
	if err != nil {
		t.p.creates.WithLabelValues("error").Inc()
		return row, err
	}
	t.p.creates.WithLabelValues("ok").Inc()
	t.p.createSeconds.Observe(time.Since(start).Seconds())
	return row, nil
}

type nodeDescs struct {
	sandboxes, builds         *prometheus.Desc
	vcpus, memoryMB, diskFree *prometheus.Desc
	sandboxesMax, buildsFree  *prometheus.Desc
	scrapeErr                 *prometheus.Desc
}

func newNodeDescs() nodeDescs {
	return nodeDescs{
		sandboxes:    prometheus.NewDesc("warren_sandboxes", "This node's live sandboxes by state (creating, running, paused), build sandboxes included.", []string{"state"}, nil),
		builds:       prometheus.NewDesc("warren_builds", "Template builds by state: those claimed by this node, and the cluster's queued ones (claimed by no node yet).", []string{"state"}, nil),
		vcpus:        prometheus.NewDesc("warren_node_vcpus", "The node's vCPUs: total (host CPUs) and free (what sandboxes may still be promised, overcommit included).", []string{"kind"}, nil),
		memoryMB:     prometheus.NewDesc("warren_node_memory_mb", "The node's memory in MB: total and free (what sandboxes may still be promised, overcommit included).", []string{"kind"}, nil),
		diskFree:     prometheus.NewDesc("warren_node_disk_free_bytes", "Free bytes of the disk pool beyond its reserve.", nil, nil),
		sandboxesMax: prometheus.NewDesc("warren_node_sandboxes_max", "The most live sandboxes this node holds.", nil, nil),
		buildsFree:   prometheus.NewDesc("warren_node_build_slots_free", "Build workers of this node that are idle.", nil, nil),
		scrapeErr:    prometheus.NewDesc("warren_node_scrape_error", "1 when this scrape could not read the node's figures from Postgres (they are missing then).", nil, nil),
	}
}

// nodeCollector reads the node's figures from Postgres at each scrape.
type nodeCollector struct {
	n     *Node
	descs nodeDescs
}

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	d := c.descs
	for _, x := range []*prometheus.Desc{d.sandboxes, d.builds, d.vcpus, d.memoryMB, d.diskFree, d.sandboxesMax, d.buildsFree, d.scrapeErr} {
		ch <- x
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, n := c.descs, c.n
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	failed := 0.0
	node := n.ID.UUID()
	if rows, err := n.store.CountNodeLiveSandboxesByStatus(ctx, &node); err == nil {
		by := map[string]int64{"creating": 0, "running": 0, "paused": 0}
		for _, r := range rows {
			by[r.Status] = r.N
		}
		for st, v := range by {
			gauge(d.sandboxes, float64(v), st)
		}
	} else {
		failed = 1
		n.log.Warn("metrics: counting sandboxes", "err", err)
	}
	if rows, err := n.store.CountNodeBuildsByStatus(ctx, &node); err == nil {
		by := map[string]int64{"queued": 0, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 0}
		for _, r := range rows {
			by[r.Status] = r.N
		}
		for st, v := range by {
			gauge(d.builds, float64(v), st)
		}
	} else {
		failed = 1
		n.log.Warn("metrics: counting builds", "err", err)
	}
	if cp, err := n.service.Capacity(ctx); err == nil {
		gauge(d.vcpus, cp.VCPUsTotal, "total")
		gauge(d.vcpus, cp.VCPUsFree, "free")
		gauge(d.memoryMB, float64(cp.MemoryMBTotal), "total")
		gauge(d.memoryMB, float64(cp.MemoryMBFree), "free")
		gauge(d.diskFree, float64(cp.DiskBytesFree))
		gauge(d.sandboxesMax, float64(cp.SandboxesMax))
	} else {
		failed = 1
		n.log.Warn("metrics: reading capacity", "err", err)
	}
	gauge(d.buildsFree, float64(n.builder.FreeSlots()))
	gauge(d.scrapeErr, failed)
}

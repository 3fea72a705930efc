package metrics

import "github.com/prometheus/client_golang/prometheus"

// Collector exports every sandbox's newest sample as Prometheus gauges
// labelled by sandbox and team. Register it with a prometheus.Registry.
type Collector struct {
	s                             *Sampler
	cpu, cores, vcpus             *prometheus.Desc
	mem, memLimit, disk, diskSize *prometheus.Desc
	rx, tx                        *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// Collector returns the sampler's Prometheus collector.
func (s *Sampler) Collector() *Collector {
	l := []string{"sandbox", "team"}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, l, nil) }
	return &Collector{s: s,
		cpu:      d("warren_sandbox_cpu_percent", "CPU used over the last sample interval, in percent of the sandbox's vCPU limit."),
		cores:    d("warren_sandbox_cpu_cores", "CPU used over the last sample interval, in cores."),
		vcpus:    d("warren_sandbox_vcpus", "The sandbox's vCPU limit (0: none)."),
		mem:      d("warren_sandbox_memory_used_bytes", "Memory used by the sandbox's processes, without inactive page cache."),
		memLimit: d("warren_sandbox_memory_limit_bytes", "The sandbox's memory limit (0: none)."),
		disk:     d("warren_sandbox_disk_used_bytes", "Used bytes of the sandbox's root filesystem."),
		diskSize: d("warren_sandbox_disk_size_bytes", "Size of the sandbox's root filesystem."),
		rx:       d("warren_sandbox_network_receive_bytes", "Bytes the sandbox received on its network interface since it started."),
		tx:       d("warren_sandbox_network_transmit_bytes", "Bytes the sandbox sent on its network interface since it started."),
	}
}

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.cpu, c.cores, c.vcpus, c.mem, c.memLimit, c.disk, c.diskSize, c.rx, c.tx} {
		ch <- d
	}
}

// Collect sends the newest sample of every sandbox. The network counters
// are gauges, not counters: a sandbox's series ends with the sandbox.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, cur := range c.s.Currents() {
		g := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, cur.ID, cur.Team)
		}
		g(c.cpu, cur.CPUPercent)
		g(c.cores, cur.CPUCores())
		g(c.vcpus, cur.VCPUs)
		g(c.mem, float64(cur.MemoryUsedBytes))
		g(c.memLimit, float64(cur.MemoryLimitBytes))
		g(c.disk, float64(cur.DiskUsedBytes))
		g(c.diskSize, float64(cur.DiskSizeBytes))
		g(c.rx, float64(cur.NetRxBytes))
		g(c.tx, float64(cur.NetTxBytes))
	}
}

package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
)

// WriteJSON writes res as indented JSON.
func WriteJSON(w io.Writer, res *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// WriteTable writes res as a table of latencies (p50/p90/p99/max in ms)
// followed by the memory and density figures.
func WriteTable(w io.Writer, res *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := false
	row := func(name string, s Stats) {
		if !header {
			fmt.Fprintf(tw, "measurement\tn\terrors\tp50 ms\tp90 ms\tp99 ms\tmax ms\t\n")
			header = true
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t\n", name, s.Count, s.Errors, s.P50MS, s.P90MS, s.P99MS, s.MaxMS)
	}
	if c := res.Create; c != nil {
		for _, ph := range []CreatePhase{c.Single, c.Concurrent} {
			if ph.N == 0 {
				continue
			}
			tag := fmt.Sprintf("(%d in flight)", ph.Concurrency)
			row("create→exec-ready "+tag, ph.Ready)
			row("  POST /v1/sandboxes "+tag, ph.Create)
			row("  first exec after create "+tag, ph.FirstExec)
			for _, name := range phaseNames(ph.Phases) {
				row("    node: "+name+" "+tag, ph.Phases[name])
			}
		}
	}
	if e := res.Exec; e != nil {
		row("exec round trip", e.RoundTrip)
		row("  in sandbox (agent, whole ms)", e.InSandbox)
	}
	if d := res.Density; d != nil {
		row("density: POST /v1/sandboxes", d.Create)
		for i, s := range d.ByHundred {
			row(fmt.Sprintf("  creates %d-%d", i*100+1, i*100+s.Count+s.Errors), s)
		}
	}
	if p := res.Pool; p != nil {
		row("pool: POST /v1/sandboxes, claimed", p.Claim)
		row("pool: POST /v1/sandboxes, cold", p.Cold)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if c := res.Create; c != nil {
		for _, ph := range []CreatePhase{c.Single, c.Concurrent} {
			if ph.N > 0 {
				fmt.Fprintf(w, "create, %d in flight: %d sandboxes in %.0f ms (%.1f/s), %d execs sent\n",
					ph.Concurrency, ph.Ready.Count, ph.WallMS, ph.PerSecond, ph.ExecTries)
			}
		}
	}
	if m := res.IdleMemory; m != nil {
		fmt.Fprintf(w, "idle memory, %d sandboxes, method %s:\n", m.Sandboxes, m.Method)
		if m.CgroupsFound > 0 {
			fmt.Fprintf(w, "  cgroup usage %.2f MB/sandbox (rss %.2f, cache %.2f) over %d cgroups\n",
				m.CgroupUsagePerSandboxMB, m.CgroupRSSPerSandboxMB, m.CgroupCachePerSandboxMB, m.CgroupsFound)
		}
		if m.Method != "none" {
			fmt.Fprintf(w, "  host MemAvailable %.0f → %.0f MB: %.2f MB/sandbox\n",
				m.MemAvailableBeforeMB, m.MemAvailableAfterMB, m.HostDeltaPerSandboxMB)
		}
		if m.Note != "" {
			fmt.Fprintf(w, "  note: %s\n", m.Note)
		}
	}
	if d := res.Density; d != nil {
		fmt.Fprintf(w, "density: %d created (max %d), %d running at once, %d answered an exec; stopped: %s\n",
			d.Created, d.Max, d.RunningAtOnce, d.Answered, d.StopReason)
		if d.MemAvailableBeforeMB > 0 {
			fmt.Fprintf(w, "  host MemAvailable %.0f → %.0f MB\n", d.MemAvailableBeforeMB, d.MemAvailableAfterMB)
		}
		for _, f := range d.ExecFailures {
			fmt.Fprintf(w, "  exec failure: %s\n", f)
		}
	}
	if p := res.Pool; p != nil {
		fmt.Fprintf(w, "pool: %d of %d creates claimed a pooled sandbox; the pool of %d filled in %.0f ms\n",
			p.Claimed, p.Claim.Count, p.N, p.FillMS)
	}
	for _, e := range res.Errors {
		fmt.Fprintf(w, "error in %s: %s\n", e.Scenario, e.Error)
	}
	return nil
}

// phaseOrder is the order of a create's phases on the node (sandbox/timing).
var phaseOrder = []string{"auth", "api", "template", "quota", "pool_claim", "place", "reserve", "db_insert", "image",
	"manager", "dirs", "netns", "disk", "mount", "spec", "runc", "watch", "agent", "start_cmd",
	"db_running", "remote_start", "audit"}

// phaseNames lists the names in phases: known ones in phaseOrder, then the rest sorted.
func phaseNames(phases map[string]Stats) []string {
	var out []string
	known := map[string]bool{}
	for _, n := range phaseOrder {
		known[n] = true
		if _, ok := phases[n]; ok {
			out = append(out, n)
		}
	}
	var rest []string
	for n := range phases {
		if !known[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

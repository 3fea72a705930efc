package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MemoryResult is the idle-memory scenario: what K idle sandboxes cost.
type MemoryResult struct {
	Sandboxes int `json:"sandboxes"`
	// Method says how the figures were taken: "cgroup+meminfo" when the node
	// runs on this host (its sandboxes' memory cgroups were found), "meminfo"
	// when the URL is local but no cgroup was found, "none" otherwise.
	Method string `json:"method"`
	// CgroupsFound counts the sandboxes whose memory cgroup was read.
	CgroupsFound int `json:"cgroups_found"`
	// Cgroup*PerSandboxMB: the sum over the sandboxes' memory cgroups
	// (<root>/warren-*/<id>/) divided by CgroupsFound: usage_in_bytes, and its
	// rss and page-cache parts from memory.stat.
	CgroupUsagePerSandboxMB float64 `json:"cgroup_usage_per_sandbox_mb"`
	CgroupRSSPerSandboxMB   float64 `json:"cgroup_rss_per_sandbox_mb"`
	CgroupCachePerSandboxMB float64 `json:"cgroup_cache_per_sandbox_mb"`
	// Host MemAvailable before the creates and after them (plus Settle),
	// and the drop divided by K. It includes what the cgroups miss (kernel
	// memory of netns/veth/loop/mount, the node's own growth) and anything
	// else running on the host meanwhile.
	MemAvailableBeforeMB  float64 `json:"mem_available_before_mb"`
	MemAvailableAfterMB   float64 `json:"mem_available_after_mb"`
	HostDeltaPerSandboxMB float64 `json:"host_delta_per_sandbox_mb"`
	Note                  string  `json:"note,omitempty"`
}

func (r *Runner) idleMemory(ctx context.Context, t *tracker, res *MemoryResult) error {
	k := r.cfg.IdleN
	local := isLocalURL(r.cfg.URL)
	before, berr := memAvailable(r.cfg.MeminfoPath)
	ids := make([]string, 0, k)
	for range k {
		sb, err := r.newSandbox(ctx, t, ScenarioIdleMemory)
		if err != nil {
			return err
		}
		if _, err := r.waitExecReady(ctx, sb.ID); err != nil {
			return err
		}
		ids = append(ids, sb.ID)
	}
	res.Sandboxes = len(ids)
	if err := sleep(ctx, r.cfg.Settle); err != nil {
		return err
	}
	var usage, rss, cache int64
	for _, id := range ids {
		u, s, ok := r.sandboxCgroup(id)
		if !ok {
			continue
		}
		res.CgroupsFound++
		usage += u
		rss += s["total_rss"]
		cache += s["total_cache"]
	}
	after, aerr := memAvailable(r.cfg.MeminfoPath)
	switch {
	case res.CgroupsFound > 0:
		res.Method = "cgroup+meminfo"
		n := float64(res.CgroupsFound)
		res.CgroupUsagePerSandboxMB = mb(usage) / n
		res.CgroupRSSPerSandboxMB = mb(rss) / n
		res.CgroupCachePerSandboxMB = mb(cache) / n
		if res.CgroupsFound < len(ids) {
			res.Note = fmt.Sprintf("only %d of %d sandbox cgroups found under %s", res.CgroupsFound, len(ids), r.cfg.CgroupRoot)
		}
	case local:
		res.Method = "meminfo"
		res.Note = "no sandbox memory cgroup found under " + r.cfg.CgroupRoot + " (cgroup v1 layout expected)"
	default:
		res.Method = "none"
		res.Note = "the node is not on this host: host memory cannot be read from here"
		return nil
	}
	if berr != nil || aerr != nil {
		return fmt.Errorf("reading MemAvailable: %v %v", berr, aerr)
	}
	res.MemAvailableBeforeMB, res.MemAvailableAfterMB = mb(before), mb(after)
	res.HostDeltaPerSandboxMB = mb(before-after) / float64(len(ids))
	return nil
}

// sandboxCgroup reads sandbox id's memory cgroup (usage and memory.stat).
func (r *Runner) sandboxCgroup(id string) (int64, map[string]int64, bool) {
	dirs, _ := filepath.Glob(filepath.Join(r.cfg.CgroupRoot, "warren-*", id))
	if len(dirs) != 1 {
		return 0, nil, false
	}
	raw, err := os.ReadFile(filepath.Join(dirs[0], "memory.usage_in_bytes"))
	if err != nil {
		return 0, nil, false
	}
	u, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil {
		return 0, nil, false
	}
	stat, _ := readKV(filepath.Join(dirs[0], "memory.stat"), 1)
	return u, stat, true
}

// memAvailable reads MemAvailable in bytes.
func memAvailable(path string) (int64, error) {
	kv, err := readKV(path, 1024)
	if err != nil {
		return 0, err
	}
	v, ok := kv["MemAvailable:"]
	if !ok {
		return 0, fmt.Errorf("%s has no MemAvailable line", path)
	}
	return v, nil
}

// readKV reads "key value [unit]" lines, multiplying values by scale.
func readKV(path string, scale int64) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		if v, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
			out[fields[0]] = v * scale
		}
	}
	return out, sc.Err()
}

func isLocalURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

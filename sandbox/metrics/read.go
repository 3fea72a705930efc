package metrics

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// raw is one reading of a sandbox's counters, before deltas.
type raw struct {
	cpuNanos    uint64  // CPU time used since the cgroup was made
	vcpus       float64 // the quota in CPUs; 0: none
	memUsed     int64
	memLimit    int64 // 0: none
	diskUsed    int64
	diskSize    int64
	rx, tx      uint64 // the sandbox's point of view
	haveNet     bool
	haveDisk    bool
	haveMemory  bool
	haveCPUTime bool
}

// unlimited is where a v1 limit means "no limit" (the kernel's page-rounded
// LLONG_MAX and anything near it).
const unlimited = int64(1) << 60

// cgroups reads the counters of one cgroup layout.
type cgroups struct {
	root    string
	unified bool
	cpuacct string // v1 hierarchy dirs (empty when missing)
	cpu     string
	memory  string
}

// detectCgroups finds the layout under root: unified when the root itself is
// a cgroup2 hierarchy, else the v1 controller directories.
func detectCgroups(root string) (*cgroups, error) {
	c := &cgroups{root: root}
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		c.unified = true
		return c, nil
	}
	pick := func(names ...string) string {
		for _, n := range names {
			d := filepath.Join(root, n)
			if _, err := os.Stat(filepath.Join(d, "cgroup.procs")); err == nil {
				return d
			}
		}
		return ""
	}
	c.cpuacct = pick("cpuacct", "cpu,cpuacct", "cpuacct,cpu")
	c.cpu = pick("cpu", "cpu,cpuacct", "cpuacct,cpu")
	c.memory = pick("memory")
	if c.cpuacct == "" && c.memory == "" {
		return nil, fmt.Errorf("metrics: no cgroup v2 hierarchy and no v1 cpuacct or memory hierarchy under %s", root)
	}
	return c, nil
}

// read fills the CPU and memory parts of r for cgroup path (e.g.
// "/warren-w1a2b3/sb-…"). A cgroup that does not exist (yet or any more) is
// os.ErrNotExist.
func (c *cgroups) read(path string, r *raw) error {
	if c.unified {
		return c.readV2(filepath.Join(c.root, path), r)
	}
	return c.readV1(path, r)
}

func (c *cgroups) readV1(path string, r *raw) error {
	var errs []error
	if c.cpuacct != "" {
		n, err := readUint(filepath.Join(c.cpuacct, path, "cpuacct.usage"))
		if err != nil {
			return err // the cgroup is not there: nothing else is
		}
		r.cpuNanos, r.haveCPUTime = n, true
	}
	if c.cpu != "" {
		quota, err1 := readInt(filepath.Join(c.cpu, path, "cpu.cfs_quota_us"))
		period, err2 := readInt(filepath.Join(c.cpu, path, "cpu.cfs_period_us"))
		if err := errors.Join(err1, err2); err != nil {
			errs = append(errs, err)
		} else if quota > 0 && period > 0 {
			r.vcpus = float64(quota) / float64(period)
		}
	}
	if c.memory != "" {
		dir := filepath.Join(c.memory, path)
		usage, err1 := readInt(filepath.Join(dir, "memory.usage_in_bytes"))
		limit, err2 := readInt(filepath.Join(dir, "memory.limit_in_bytes"))
		stat, err3 := readKeyed(filepath.Join(dir, "memory.stat"))
		if err := errors.Join(err1, err2, err3); err != nil {
			errs = append(errs, err)
		} else {
			inactive, ok := stat["total_inactive_file"]
			if !ok {
				inactive = stat["inactive_file"]
			}
			r.memUsed, r.haveMemory = max(0, usage-int64(inactive)), true
			if limit > 0 && limit < unlimited {
				r.memLimit = limit
			}
		}
	}
	return errors.Join(errs...)
}

func (c *cgroups) readV2(dir string, r *raw) error {
	stat, err := readKeyed(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return err
	}
	if us, ok := stat["usage_usec"]; ok {
		r.cpuNanos, r.haveCPUTime = us*1000, true
	}
	var errs []error
	if b, err := os.ReadFile(filepath.Join(dir, "cpu.max")); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 && f[0] != "max" {
			quota, err1 := strconv.ParseInt(f[0], 10, 64)
			period, err2 := strconv.ParseInt(f[1], 10, 64)
			if err1 == nil && err2 == nil && quota > 0 && period > 0 {
				r.vcpus = float64(quota) / float64(period)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) { // no cpu controller enabled: no quota
		errs = append(errs, err)
	}
	cur, err1 := readInt(filepath.Join(dir, "memory.current"))
	mstat, err2 := readKeyed(filepath.Join(dir, "memory.stat"))
	if err := errors.Join(err1, err2); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	} else {
		r.memUsed, r.haveMemory = max(0, cur-int64(mstat["inactive_file"])), true
		if b, err := os.ReadFile(filepath.Join(dir, "memory.max")); err == nil {
			if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v < unlimited {
				r.memLimit = v
			}
		}
	}
	return errors.Join(errs...)
}

// readNet fills the network part of r from the host end of the sandbox's
// veth: its transmitted bytes are what the sandbox received.
func readNet(netRoot, veth string, r *raw) error {
	stats := filepath.Join(netRoot, veth, "statistics")
	hostTx, err1 := readUint(filepath.Join(stats, "tx_bytes"))
	hostRx, err2 := readUint(filepath.Join(stats, "rx_bytes"))
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	r.rx, r.tx, r.haveNet = hostTx, hostRx, true
	return nil
}

// readDisk fills the disk part of r from the mounted rootfs.
func readDisk(rootfs string, r *raw) error {
	var st unix.Statfs_t
	if err := unix.Statfs(rootfs, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", rootfs, err)
	}
	bs := int64(st.Bsize)
	r.diskSize = int64(st.Blocks) * bs
	r.diskUsed = int64(st.Blocks-st.Bfree) * bs
	r.haveDisk = true
	return nil
}

// hostCPUs is what a sandbox without a CPU quota is measured against.
var hostCPUs = float64(runtime.NumCPU())

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// readKeyed reads a "key value" per line file (memory.stat, cpu.stat).
func readKeyed(path string) (map[string]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, sc.Err()
}

package service

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/store"
)

// Capacity is what this node has and what its live sandboxes reserve. Free
// figures are what may still be promised: the totals scaled by the
// overcommit factors, less the limits of live sandboxes.
type Capacity struct {
	VCPUsTotal       float64 `json:"vcpus_total"`
	VCPUsFree        float64 `json:"vcpus_free"`
	MemoryMBTotal    int64   `json:"memory_mb_total"`
	MemoryMBFree     int64   `json:"memory_mb_free"`
	DiskBytesFree    int64   `json:"disk_bytes_free"`
	SandboxesRunning int     `json:"sandboxes_running"`
	SandboxesMax     int     `json:"sandboxes_max"`
}

// Capacity reports the node's capacity; poolDir is where disks are allocated.
func (s *Service) Capacity(ctx context.Context, poolDir string) (Capacity, error) {
	u, err := s.st.NodeLiveUsage(ctx, nodePtr(s.node))
	if err != nil {
		return Capacity{}, store.Map(err)
	}
	c := Capacity{VCPUsTotal: float64(runtime.NumCPU()), MemoryMBTotal: memTotalMB(), SandboxesRunning: int(u.Sandboxes), SandboxesMax: s.limits.MaxSandboxes}
	c.VCPUsFree = c.VCPUsTotal*max(1, s.limits.CPUOvercommit) - u.Vcpus
	c.MemoryMBFree = int64(float64(c.MemoryMBTotal)*max(1, s.limits.MemoryOvercommit)) - u.MemoryMb
	var st unix.Statfs_t
	if err := unix.Statfs(poolDir, &st); err == nil {
		c.DiskBytesFree = int64(st.Bavail) * st.Bsize
	}
	return c, nil
}

func memTotalMB() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb / 1024
		}
	}
	return 0
}

// SetDraining stops (or resumes) new sandboxes on this node; live ones stay.
func (s *Service) SetDraining(v bool) { s.draining.Store(v) }

// Draining reports whether the node refuses new sandboxes.
func (s *Service) Draining() bool { return s.draining.Load() }

func (s *Service) checkDraining() error {
	if s.draining.Load() {
		return &sandbox.CapacityError{Message: "this node is draining and takes no new sandboxes; retry later"}
	}
	return nil
}

package sandboxes

import (
	"bufio"
	"context"
	"fmt"
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

// Capacity reports the node's capacity. DiskBytesFree is the pool's free
// space beyond its reserve (Limits.MinFreeDiskMB): 0 means no room.
func (s *Service) Capacity(ctx context.Context) (Capacity, error) {
	u, err := s.st.NodeLiveUsage(ctx, nodePtr(s.node))
	if err != nil {
		return Capacity{}, store.Map(err)
	}
	c := Capacity{VCPUsTotal: float64(runtime.NumCPU()), MemoryMBTotal: memTotalMB(), SandboxesRunning: int(u.Sandboxes), SandboxesMax: s.limits.MaxSandboxes}
	c.VCPUsFree = c.VCPUsTotal*max(1, s.limits.CPUOvercommit) - u.Vcpus
	c.MemoryMBFree = int64(float64(c.MemoryMBTotal)*max(1, s.limits.MemoryOvercommit)) - u.MemoryMb
	c.DiskBytesFree = max(0, diskFree(s.diskDirs)-s.limits.MinFreeDiskMB<<20)
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

// SetDiskDirs names the directories whose filesystems hold the sandboxes'
// disks (the pool, and the filesystem under a pool file); the least free of
// them is what Capacity reports and creates check against
// Limits.MinFreeDiskMB.
func (s *Service) SetDiskDirs(dirs ...string) { s.diskDirs = dirs }

// diskFree returns the least free bytes among dirs' filesystems (-1 when
// none is known).
func diskFree(dirs []string) int64 {
	free := int64(-1)
	for _, d := range dirs {
		var st unix.Statfs_t
		if unix.Statfs(d, &st) != nil {
			continue
		}
		if f := int64(st.Bavail) * st.Bsize; free < 0 || f < free {
			free = f
		}
	}
	return free
}

// checkDisk refuses a create while the pool is below its free-space reserve.
func (s *Service) checkDisk() error {
	free := diskFree(s.diskDirs)
	if free < 0 || free >= s.limits.MinFreeDiskMB<<20 {
		return nil
	}
	s.log.Warn("disk pool below its reserve: refusing new sandboxes", "free_mb", free>>20, "reserve_mb", s.limits.MinFreeDiskMB)
	return &sandbox.CapacityError{Message: fmt.Sprintf(
		"this node is short of disk: its pool has %d MB free, below its reserve of %d MB; retry later", free>>20, s.limits.MinFreeDiskMB)}
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

package runc

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// hierarchies lists the mount points of every cgroup hierarchy: each v1
// controller or named hierarchy (name=systemd, ...) and the unified one.
func hierarchies() ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 1 || (qf[0] != "cgroup" && qf[0] != "cgroup2") || seen[pf[4]] {
			continue
		}
		seen[pf[4]] = true
		out = append(out, pf[4])
	}
	return out, nil
}

// CgroupDirs lists the directories of cgroup path (e.g. "/warren/<id>") that
// exist, in every hierarchy. Empty means the container left no cgroup behind.
func CgroupDirs(path string) ([]string, error) {
	hs, err := hierarchies()
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, h := range hs {
		d := filepath.Join(h, path)
		if _, err := os.Stat(d); err == nil {
			dirs = append(dirs, d)
		}
	}
	return dirs, nil
}

// removeCgroup removes cgroup path and its descendants from every hierarchy,
// thawing and killing whatever processes are still in them.
func removeCgroup(path string) error {
	if !strings.HasPrefix(path, "/") || filepath.Clean(path) == "/" {
		return fmt.Errorf("remove cgroup %q: not below /: %w", path, ErrInvalid)
	}
	dirs, err := CgroupDirs(path)
	if err != nil {
		return fmt.Errorf("remove cgroup %s: %w", path, err)
	}
	var errs []error
	for _, d := range dirs {
		// Deepest first: children must go before their parent.
		var tree []string
		_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				tree = append(tree, p)
			}
			return nil
		})
		for i := len(tree) - 1; i >= 0; i-- {
			if err := emptyAndRemove(tree[i]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("remove cgroup %s: %w", path, errors.Join(errs...))
	}
	return nil
}

func emptyAndRemove(dir string) error {
	if err := syscall.Rmdir(dir); err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	// Frozen tasks cannot die: thaw first (v1 freezer, v2 cgroup.freeze).
	_ = os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("THAWED"), 0)
	_ = os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("0"), 0)
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := cgroupPids(dir)
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rmdir %s (pids %v left): %w", dir, pids, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func cgroupPids(dir string) []int {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range bytes.Fields(data) {
		if pid, err := strconv.Atoi(string(f)); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

package runc

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// normalize validates o and fills in defaults.
func (o *SpecOptions) normalize() error {
	if err := ValidateID(o.ID); err != nil {
		return err
	}
	bad := func(arg, why string, v any) error {
		return fmt.Errorf("spec %s: %s %v %s: %w", o.ID, arg, v, why, ErrInvalid)
	}
	if !filepath.IsAbs(o.Rootfs) {
		return bad("Rootfs", "is not an absolute path", fmt.Sprintf("%q", o.Rootfs))
	}
	if fi, err := os.Stat(o.Rootfs); err != nil || !fi.IsDir() {
		return bad("Rootfs", "is not a directory", o.Rootfs)
	}
	if !filepath.IsAbs(o.Init) {
		return bad("Init", "is not an absolute path", fmt.Sprintf("%q", o.Init))
	}
	if fi, err := os.Stat(o.Init); err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return bad("Init", "is not an executable file", o.Init)
	}
	for _, b := range o.BindMounts {
		if !filepath.IsAbs(b.Source) {
			return bad("BindMounts.Source", "is not an absolute path", fmt.Sprintf("%q", b.Source))
		}
		if _, err := os.Stat(b.Source); err != nil {
			return bad("BindMounts.Source", "does not exist", b.Source)
		}
		d := filepath.Clean(b.Destination)
		if !filepath.IsAbs(b.Destination) || d == "/" || d == "/proc" || strings.HasPrefix(d, "/proc/") ||
			d == "/dev" || d == "/sys" || strings.HasPrefix(d, "/sys/") || d == "/.warren" || d == InitPath {
			return bad("BindMounts.Destination", "must be an absolute path outside /, /proc, /sys, /dev and /.warren", fmt.Sprintf("%q", b.Destination))
		}
	}
	if o.Runtime == "" {
		o.Runtime = RuntimeRunc
	}
	if _, err := ParseRuntime(string(o.Runtime)); err != nil {
		return bad("Runtime", "is not runc or gvisor", fmt.Sprintf("%q", o.Runtime))
	}
	switch {
	case o.Runtime == RuntimeGVisor && !filepath.IsAbs(o.CtlDir):
		return bad("CtlDir", "must be an absolute path for a gVisor container", fmt.Sprintf("%q", o.CtlDir))
	case o.Runtime != RuntimeGVisor && o.CtlDir != "":
		return bad("CtlDir", "is for gVisor containers only", fmt.Sprintf("%q", o.CtlDir))
	}
	if o.NetNSPath != "" {
		if !filepath.IsAbs(o.NetNSPath) {
			return bad("NetNSPath", "is not an absolute path", fmt.Sprintf("%q", o.NetNSPath))
		}
		if _, err := os.Stat(o.NetNSPath); err != nil {
			return bad("NetNSPath", "does not exist", o.NetNSPath)
		}
	}
	if math.IsNaN(o.VCPUs) || math.IsInf(o.VCPUs, 0) || o.VCPUs < 0 || (o.VCPUs > 0 && o.VCPUs*CPUPeriod < 1000) {
		return bad("VCPUs", "must be 0 (unlimited) or at least 0.01", o.VCPUs)
	}
	if o.MemoryBytes < 0 || (o.MemoryBytes > 0 && o.MemoryBytes < MinMemoryBytes) {
		return bad("MemoryBytes", fmt.Sprintf("must be 0 (unlimited) or at least %d", MinMemoryBytes), o.MemoryBytes)
	}
	if o.Pids < 0 {
		return bad("Pids", "must not be negative", o.Pids)
	}
	if o.Pids == 0 {
		o.Pids = DefaultPids
	}
	if !strings.HasPrefix(o.CgroupsPath, "/") || filepath.Clean(o.CgroupsPath) != o.CgroupsPath || o.CgroupsPath == "/" {
		return bad("CgroupsPath", "must be a clean absolute path below /", fmt.Sprintf("%q", o.CgroupsPath))
	}
	paths := []string{o.Rootfs, o.Init}
	for _, b := range o.BindMounts {
		paths = append(paths, b.Source)
	}
	for _, p := range paths {
		if err := searchable(p); err != nil {
			return fmt.Errorf("spec %s: %w", o.ID, err)
		}
	}
	for _, mp := range []*IDMap{&o.UIDMap, &o.GIDMap} {
		if *mp == (IDMap{}) {
			*mp = IDMap{HostID: DefaultIDBase, Size: DefaultIDMapSize}
		}
		if mp.HostID == 0 || mp.Size == 0 || uint64(mp.HostID)+uint64(mp.Size) > math.MaxUint32 {
			return bad("UIDMap/GIDMap", "must map to a non-root host range (HostID > 0, Size > 0)", *mp)
		}
	}
	if o.Hostname == "" {
		o.Hostname = o.ID
	}
	if o.Cwd == "" {
		o.Cwd = "/"
	}
	o.Env = withDefaultEnv(o.Env)
	return nil
}

func withDefaultEnv(env []string) []string {
	out := append([]string(nil), env...)
	has := func(k string) bool {
		for _, e := range env {
			if strings.HasPrefix(e, k+"=") {
				return true
			}
		}
		return false
	}
	if !has("PATH") {
		out = append(out, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	if !has("HOME") {
		out = append(out, "HOME=/root")
	}
	return out
}

// searchable checks that every directory above path lets others search it:
// runc sets up the container's mounts as the sandbox's root, an unprivileged
// host uid, so a 0700 parent (e.g. a test's temp dir) makes runc fail with a
// bare "permission denied".
func searchable(path string) error {
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s: parent directory %s (mode %o) is not searchable by the sandbox's unprivileged root; make it o+x: %w",
				path, d, fi.Mode().Perm(), ErrInvalid)
		}
		if d == "/" {
			return nil
		}
	}
}

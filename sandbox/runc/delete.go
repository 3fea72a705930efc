package runc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Delete removes container id (runc delete). A running or paused container is
// refused unless force, which kills it first. Afterwards no process of the
// container and no cgroup directory of it remains in any hierarchy; a leftover
// is killed and removed, or reported. A container that does not exist gives
// ErrNotFound (after removing leftover cgroups at CgroupsPath(id)).
func (r *Runc) Delete(ctx context.Context, id string, force bool) error {
	st, err := r.State(ctx, id)
	if errors.Is(err, ErrNotFound) {
		if cerr := removeCgroup(r.CgroupsPath(id)); cerr != nil {
			return fmt.Errorf("delete %s: %w", id, cerr)
		}
		return err
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	cgPath := bundleCgroupsPath(st.Bundle, r.CgroupsPath(id))
	if force && st.Status != "stopped" {
		// runc delete --force sleeps 100 ms before its first check that the init
		// died; killing and waiting here first makes a forced delete ~10x faster.
		r.killAndWait(ctx, id, st)
	}
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	if _, err := r.run(ctx, "delete", id, append(args, id)...); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := removeCgroup(cgPath); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	r.log.Debug("container deleted", "id", id)
	return nil
}

// killAndWait SIGKILLs every process of the container, thaws it if paused (a
// frozen task cannot die), and waits up to 5 s for the init to exit. Failures
// are left to runc delete --force, which retries the kill.
func (r *Runc) killAndWait(ctx context.Context, id string, st State) {
	if err := r.Kill(ctx, id, syscall.SIGKILL, true); err != nil {
		r.log.Debug("kill before delete", "id", id, "err", err)
		return
	}
	if st.Status == "paused" {
		if err := r.Resume(ctx, id); err != nil {
			r.log.Debug("resume before delete", "id", id, "err", err)
			return
		}
	}
	if st.Pid <= 0 {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for pidAlive(st.Pid) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(2 * time.Millisecond)
	}
}

// pidAlive reports whether pid exists and is neither a zombie nor dead.
func pidAlive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// forceRemove is the cleanup after a failed create: runc delete --force
// (ignoring "does not exist"), then the container's cgroups.
func (r *Runc) forceRemove(id, cgPath string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if _, err := r.run(ctx, "delete", id, "delete", "--force", id); err != nil && !errors.Is(err, ErrNotFound) {
		errs = append(errs, err)
	}
	if cgPath == "" {
		cgPath = r.CgroupsPath(id)
	}
	if err := removeCgroup(cgPath); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// bundleCgroupsPath reads the cgroups path from bundle/config.json.
func bundleCgroupsPath(bundle, fallback string) string {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return fallback
	}
	var s specs.Spec
	if json.Unmarshal(data, &s) != nil || s.Linux == nil || s.Linux.CgroupsPath == "" {
		return fallback
	}
	return s.Linux.CgroupsPath
}

// CleanupStale removes what a crash left in this Runc's state directory and
// cgroup parent: every container whose ID keep rejects is force-deleted, and
// every cgroup directory under CgroupParent whose name keep rejects is emptied
// (processes killed) and removed. keep nil keeps nothing.
func (r *Runc) CleanupStale(ctx context.Context, keep func(id string) bool) error {
	if keep == nil {
		keep = func(string) bool { return false }
	}
	errs, err := r.deleteStale(ctx, keep)
	if err != nil {
		return fmt.Errorf("cleanup stale: %w", err)
	}
	hs, err := hierarchies()
	if err != nil {
		return fmt.Errorf("cleanup stale: %w", errors.Join(append(errs, err)...))
	}
	seen := map[string]bool{}
	for _, h := range hs {
		ents, err := os.ReadDir(filepath.Join(h, r.parent))
		if err != nil {
			continue // this hierarchy has no parent dir: nothing of ours there
		}
		for _, e := range ents {
			if !e.IsDir() || seen[e.Name()] || keep(e.Name()) {
				continue
			}
			seen[e.Name()] = true
			r.log.Info("removing stale cgroup", "path", r.parent+"/"+e.Name())
			if err := removeCgroup(r.parent + "/" + e.Name()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("cleanup stale: %w", errors.Join(errs...))
	}
	return nil
}

// CleanupStaleContainers deletes this runtime's containers that keep does not
// keep, and leaves the cgroups under the parent alone: a second runtime
// sharing the parent (gVisor beside runc) calls it before the other's
// CleanupStale sweeps them, since a sweep would meet the other runtime's
// live containers.
func (r *Runc) CleanupStaleContainers(ctx context.Context, keep func(id string) bool) error {
	if keep == nil {
		keep = func(string) bool { return false }
	}
	errs, err := r.deleteStale(ctx, keep)
	if err != nil {
		return fmt.Errorf("cleanup stale: %w", err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("cleanup stale: %w", errors.Join(errs...))
	}
	return nil
}

// deleteStale deletes the listed containers keep does not keep; err is a
// failed listing, errs the failed deletes.
func (r *Runc) deleteStale(ctx context.Context, keep func(id string) bool) (errs []error, err error) {
	list, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, st := range list {
		if keep(st.ID) {
			continue
		}
		r.log.Info("removing stale container", "id", st.ID, "status", st.Status)
		if err := r.Delete(ctx, st.ID, true); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errs, nil
}

package runc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Checkpoint saves the memory and state of gVisor container id into the
// directory dir (runsc checkpoint --image-path) and stops it: its processes
// are gone, its state is "stopped" until Delete. Restore brings it back.
// Only RuntimeGVisor can checkpoint (Debian's criu does not work for runc here).
func (r *Runc) Checkpoint(ctx context.Context, id, dir string) error {
	if r.rt != RuntimeGVisor {
		return fmt.Errorf("checkpoint %s: only a gVisor container can be checkpointed, this is %s: %w", id, r.rt, ErrInvalid)
	}
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("checkpoint %s: image dir %q is not an absolute path: %w", id, dir, ErrInvalid)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("checkpoint %s: %w", id, err)
	}
	st, err := r.State(ctx, id)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", id, err)
	}
	if _, err := r.run(ctx, "checkpoint", id, "checkpoint", "--image-path", dir, id); err != nil {
		return err
	}
	// runsc returns once the image is written; the sandbox process exits
	// just after (runsc state may still say "running" for a moment).
	deadline := time.Now().Add(10 * time.Second)
	for st.Pid > 0 && pidAlive(st.Pid) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("checkpoint %s: the sandbox (pid %d) still runs after its checkpoint: %w", id, st.Pid, ErrRuntime)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// Restore starts container id again from the image Checkpoint wrote in dir,
// with bundle's config.json (the stopped container must have been deleted).
// Its processes continue where they were, memory included. The init's host
// pid is written to bundle/init.pid again. On failure nothing of the
// container is left.
func (r *Runc) Restore(ctx context.Context, id, bundle, dir string) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	if r.rt != RuntimeGVisor {
		return fmt.Errorf("restore %s: only a gVisor container can be restored, this is %s: %w", id, r.rt, ErrInvalid)
	}
	if !filepath.IsAbs(bundle) || !filepath.IsAbs(dir) {
		return fmt.Errorf("restore %s: bundle %q and image dir %q must be absolute paths: %w", id, bundle, dir, ErrInvalid)
	}
	if _, err := os.Stat(r.statePath(id)); err == nil {
		return fmt.Errorf("restore %s: container %w (delete the checkpointed one first)", id, ErrExists)
	}
	stdin, err := os.Open(os.DevNull)
	if err != nil {
		return fmt.Errorf("restore %s: %w", id, err)
	}
	defer stdin.Close()
	out, err := os.OpenFile(filepath.Join(bundle, "init.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("restore %s: %w", id, err)
	}
	defer out.Close()
	logPath := filepath.Join(bundle, "runc.log")
	_ = os.Remove(logPath)
	args := append(r.globalArgs(), "--log", logPath, "--log-format", "json", "restore",
		"--image-path", dir, "--bundle", bundle, "--pid-file", filepath.Join(bundle, "init.pid"), "--detach", id)
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, out, out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		msg := runcLogError(logPath)
		r.log.Warn("runsc restore failed", "id", id, "err", err, "runsc", msg)
		if cerr := r.forceRemove(id, bundleCgroupsPath(bundle, r.CgroupsPath(id))); cerr != nil {
			r.log.Error("cleanup after failed restore", "id", id, "err", cerr)
		}
		return r.wrap(ctx, "restore", id, err, msg)
	}
	r.log.Debug("container restored", "id", id, "took", time.Since(start))
	return nil
}

package image

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DebianSuite is the Debian release BuildDebian installs.
const DebianSuite = "bookworm"

// BuildDebian writes to dst a sparse ext4 image of sizeBytes holding Debian
// minbase (debootstrap --variant=minbase) from mirror, with the user account
// "user" (uid 1000), the standard mount points, ownership shifted by m. It takes
// minutes. dst must not exist. Mounts debootstrap leaves behind when it is
// interrupted are detached before the temporary tree is removed.
func BuildDebian(ctx context.Context, dst string, sizeBytes int64, m IDMap, mirror string) (err error) {
	if err := checkDst(dst, sizeBytes, m); err != nil {
		return err
	}
	u, err := url.Parse(mirror)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") || (u.Host == "" && u.Scheme != "file") {
		return fmt.Errorf("image %s: mirror %q is not an http, https or file URL: %w", dst, mirror, ErrInvalid)
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return fmt.Errorf("image %s: %w (install debootstrap)", dst, err)
	}
	tree, err := tempTree(dst, "debian")
	if err != nil {
		return err
	}
	defer func() {
		if uerr := unmountUnder(tree); uerr != nil {
			// Never remove a tree with a mount left in it: that would delete the
			// mounted filesystem's content. Leave it for an operator instead.
			err = fmt.Errorf("image %s: temp tree %s kept: %w", dst, tree, uerr)
			return
		}
		os.RemoveAll(tree)
	}()
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", DebianSuite, tree, mirror)
	// SIGTERM lets debootstrap's exit trap unmount /proc and /sys in the tree.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("image %s: debootstrap %s from %s: %w: %s", dst, DebianSuite, mirror, err, out.String())
	}
	if err := finishDebianTree(tree); err != nil {
		return fmt.Errorf("image %s: %w", dst, err)
	}
	if err := ShiftOwnership(tree, m); err != nil {
		return fmt.Errorf("image %s: %w", dst, err)
	}
	return makeExt4(ctx, tree, dst, sizeBytes, m, "warren-debian")
}

// finishDebianTree drops the package cache, adds the "user" account and the
// mount points, and writes the placeholder network files.
func finishDebianTree(tree string) error {
	debs, _ := filepath.Glob(filepath.Join(tree, "var/cache/apt/archives/*.deb"))
	for _, d := range debs {
		if err := os.Remove(d); err != nil {
			return err
		}
	}
	add := map[string]string{
		"etc/passwd": "user:x:1000:1000:user:/home/user:/bin/bash\n",
		"etc/group":  "user:x:1000:\n",
		"etc/shadow": "user:*:19000:0:99999:7:::\n",
	}
	for name, line := range add {
		if err := appendFile(filepath.Join(tree, name), line); err != nil {
			return err
		}
	}
	if err := makeSkeleton(tree); err != nil {
		return err
	}
	return writeFile(filepath.Join(tree, "etc/hostname"), "sandbox\n", 0o644)
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return fmt.Errorf("append %s: %w", path, err)
	}
	return f.Close()
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var mounts []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			mounts = append(mounts, mp)
		}
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
	for _, mp := range mounts {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && err != unix.EINVAL {
			return fmt.Errorf("unmount %s: %w", mp, err)
		}
	}
	return nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space, ...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%3o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// tailBuffer keeps the last few KiB written to it, for error messages.
type tailBuffer struct{ b bytes.Buffer }

const tailMax = 4096

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b.Write(p)
	if t.b.Len() > 2*tailMax {
		keep := append([]byte(nil), t.b.Bytes()[t.b.Len()-tailMax:]...)
		t.b.Reset()
		t.b.Write(keep)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	b := t.b.Bytes()
	if len(b) > tailMax {
		b = b[len(b)-tailMax:]
	}
	return strings.TrimSpace(string(b))
}

package image

import (
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// BusyboxPath is where BuildBusybox finds the static busybox (Debian's
// busybox-static package installs it there).
var BusyboxPath = "/bin/busybox"

// UserUID is the uid and gid of the unprivileged "user" account in every image.
const UserUID = 1000

// BuildBusybox writes to dst a sparse ext4 image of sizeBytes holding a
// busybox root: /bin/busybox with a symlink for every applet, /etc/passwd and
// /etc/group (root, nobody, user 1000), /etc/hostname, /etc/hosts, an
// /etc/resolv.conf placeholder, /tmp, /root, /home/user and the mount points
// the sandbox runtime needs. Ownership is shifted by m before mkfs; nothing is
// mounted. dst must not exist.
func BuildBusybox(ctx context.Context, dst string, sizeBytes int64, m IDMap) (err error) {
	if err := checkDst(dst, sizeBytes, m); err != nil {
		return err
	}
	if err := checkStatic(BusyboxPath); err != nil {
		return fmt.Errorf("image %s: %w", dst, err)
	}
	tree, err := tempTree(dst, "busybox")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tree)
	if err := writeBusyboxTree(ctx, tree); err != nil {
		return fmt.Errorf("image %s: %w", dst, err)
	}
	if err := ShiftOwnership(tree, m); err != nil {
		return fmt.Errorf("image %s: %w", dst, err)
	}
	return makeExt4(ctx, tree, dst, sizeBytes, m, "warren-busybox")
}

// checkStatic fails unless path is an ELF executable without an interpreter.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("busybox %s: %w (install busybox-static)", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("busybox %s is dynamically linked (install busybox-static): %w", path, ErrInvalid)
		}
	}
	return nil
}

func writeBusyboxTree(ctx context.Context, tree string) error {
	if err := makeSkeleton(tree); err != nil {
		return err
	}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "var/log", "mnt"} {
		if err := mkdirMode(filepath.Join(tree, d), 0o755); err != nil {
			return err
		}
	}
	if err := copyFile(BusyboxPath, filepath.Join(tree, "bin/busybox"), 0o755); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, BusyboxPath, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("busybox --list-full: %w", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		p := filepath.Join(tree, filepath.Clean("/"+applet))
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.Symlink("/bin/busybox", p); err != nil {
			return fmt.Errorf("applet %s: %w", applet, err)
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n" +
			"user:x:1000:1000:user:/home/user:/bin/sh\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":    "root:x:0:\ntty:x:5:\nuser:x:1000:\nnogroup:x:65534:\n",
		"etc/shadow":   "root:*::0:::::\nuser:*::0:::::\nnobody:*::0:::::\n",
		"etc/profile":  "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
		"etc/hostname": "sandbox\n",
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if name == "etc/shadow" {
			mode = 0o600
		}
		if err := writeFile(filepath.Join(tree, name), content, mode); err != nil {
			return err
		}
	}
	return nil
}

// makeSkeleton creates what every image has: mount points, /tmp, /root,
// /home/user (owned by UserUID), /etc/hosts and an /etc/resolv.conf placeholder.
func makeSkeleton(tree string) error {
	dirs := []struct {
		path string
		mode uint32
	}{
		{"etc", 0o755}, {"proc", 0o555}, {"sys", 0o555}, {"dev", 0o755}, {"run", 0o755},
		{"tmp", 0o1777}, {"var/tmp", 0o1777}, {"root", 0o700}, {"home/user", 0o755},
		{".warren", 0o755},
	}
	for _, d := range dirs {
		if err := mkdirMode(filepath.Join(tree, d.path), d.mode); err != nil {
			return err
		}
	}
	if err := os.Lchown(filepath.Join(tree, "home/user"), UserUID, UserUID); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(tree, "etc/hosts"), "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n", 0o644); err != nil {
		return err
	}
	// The sandbox runtime bind-mounts the real resolver configuration over it.
	return writeFile(filepath.Join(tree, "etc/resolv.conf"), "# replaced by warren at sandbox start\n", 0o644)
}

func mkdirMode(path string, mode uint32) error {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	// MkdirAll obeys the umask and os.FileMode has no 0o1000 bit: set the raw mode.
	if err := unix.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	return nil
}

func writeFile(path, content string, mode os.FileMode) error {
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

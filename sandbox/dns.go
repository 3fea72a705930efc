package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// hostNameservers returns the host's non-loopback nameservers from
// /etc/resolv.conf: the resolvers a sandbox with internet access can reach
// through NAT. A loopback resolver (a local stub) is unreachable from a sandbox.
func hostNameservers(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(fields[1])
		if err != nil || a.IsLoopback() || a.IsUnspecified() || !a.Is4() {
			continue
		}
		out = append(out, a.String())
	}
	return out
}

// writeResolvConf writes /etc/resolv.conf inside a mounted rootfs, owned by
// sandbox root. The path is resolved inside the rootfs (openat2
// RESOLVE_IN_ROOT) and the file replaced without following links, so a
// template whose /etc or resolv.conf is a symlink cannot make the node write
// outside the sandbox's disk.
func writeResolvConf(rootfs string, servers []string, uid int) error {
	if len(servers) == 0 {
		return nil
	}
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening rootfs: %w", err)
	}
	defer unix.Close(root)
	etc, err := unix.Openat2(root, "etc", &unix.OpenHow{
		Flags:   unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOENT) {
		return nil // an image without /etc: nothing to configure
	}
	if err != nil {
		return fmt.Errorf("opening %s: %w", filepath.Join(rootfs, "etc"), err)
	}
	defer unix.Close(etc)
	if err := unix.Unlinkat(etc, "resolv.conf", 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("replacing resolv.conf: %w", err)
	}
	fd, err := unix.Openat(etc, "resolv.conf", unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("creating resolv.conf: %w", err)
	}
	f := os.NewFile(uintptr(fd), "resolv.conf")
	defer f.Close()
	var b strings.Builder
	b.WriteString("# written by warren at sandbox start\n")
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if _, err := f.WriteString(b.String()); err != nil {
		return err
	}
	return f.Chown(uid, uid)
}

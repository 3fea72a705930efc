package agent

import (
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// root resolves sandbox paths inside one directory. Every lookup goes through
// openat2 with RESOLVE_IN_ROOT, so absolute symlinks and ".." are interpreted
// as if the directory were "/": nothing outside it can be reached.
type root struct {
	dir string
	fd  int // O_PATH|O_DIRECTORY
}

func openRoot(dir string) (*root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", dir, err)
	}
	// Fail early, with a clear message, on kernels without openat2.
	probe, err := openat2(fd, "/", unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("openat2 RESOLVE_IN_ROOT on %s (needs Linux >= 5.6): %w", dir, err)
	}
	unix.Close(probe)
	return &root{dir: dir, fd: fd}, nil
}

func (r *root) close() error { return unix.Close(r.fd) }

// cleanPath validates a request path and returns its absolute, lexically
// cleaned form. Relative paths are taken from "/".
func cleanPath(arg, p string) (string, error) {
	if p == "" {
		return "", invalid("%s is empty", arg)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", invalid("%s %q contains a NUL byte", arg, p)
	}
	return path.Clean("/" + p), nil
}

func openat2(dirfd int, p string, flags int, mode uint32) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Mode:    uint64(mode),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for range 64 {
		fd, err := unix.Openat2(dirfd, p, &how)
		// EAGAIN: a concurrent rename or mount raced the lookup; retry.
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		return fd, err
	}
	return -1, unix.EAGAIN
}

// open opens the cleaned path p inside the root.
func (r *root) open(p string, flags int, mode uint32) (int, error) {
	return openat2(r.fd, p, flags, mode)
}

// parent opens the directory holding the cleaned path p (readable, so it can
// be fsynced) and returns it with p's last component. For "/" base is "" and
// dirfd is a fresh fd of the root itself.
func (r *root) parent(p string) (dirfd int, base string, err error) {
	if p == "/" {
		fd, err := r.open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		return fd, "", err
	}
	fd, err := r.open(path.Dir(p), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return -1, "", err
	}
	return fd, path.Base(p), nil
}

// mkdirAll creates p and its missing parents with mode (mkdir -p). The mode
// is applied with fchmod, so the umask does not narrow it; owner, when not
// nil, is given the directories it creates.
func (r *root) mkdirAll(p string, mode uint32, owner *user) error {
	fd, err := r.open(p, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err == nil {
		return unix.Close(fd)
	}
	if err != unix.ENOENT || p == "/" {
		return err
	}
	if err := r.mkdirAll(path.Dir(p), mode, owner); err != nil {
		return err
	}
	dirfd, base, err := r.parent(p)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	if err := unix.Mkdirat(dirfd, base, mode); err != nil {
		if err != unix.EEXIST {
			return err
		}
		// Something exists: fine if it is (or links to) a directory.
		fd, err := r.open(p, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		return unix.Close(fd)
	}
	nfd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(nfd)
	if owner != nil {
		if err := unix.Fchown(nfd, int(owner.uid), int(owner.gid)); err != nil {
			return err
		}
	}
	return unix.Fchmod(nfd, mode)
}

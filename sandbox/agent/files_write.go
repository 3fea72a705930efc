package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path"

	"golang.org/x/sys/unix"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

// tempPrefix starts the name of an upload's temporary file.
const tempPrefix = ".warren-upload-"

// WriteFile implements agentv1.AgentServer.
func (s *server) WriteFile(stream agentv1.Agent_WriteFileServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	h := first.GetHeader()
	if h == nil {
		return invalid("the first WriteFile message must be the header")
	}
	p, err := cleanPath("path", h.Path)
	if err != nil {
		return err
	}
	if p == "/" {
		return invalid("path / is a directory")
	}
	if h.Mode&^0o7777 != 0 {
		return invalid("mode %#o has bits outside 07777", h.Mode)
	}
	mode := h.Mode
	if mode == 0 {
		mode = 0o644
	}
	owner, err := s.owner(h.Owner)
	if err != nil {
		return err
	}
	if h.MkdirParents {
		if err := s.root.mkdirAll(path.Dir(p), 0o755, owner); err != nil {
			return statusErr("mkdir", path.Dir(p), err)
		}
	}
	dirfd, base, err := s.root.parent(p)
	if err != nil {
		return statusErr("write", p, err)
	}
	defer unix.Close(dirfd)
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return invalid("write %s: is a directory", p)
	}
	size, err := s.writeAtomic(stream, dirfd, base, mode, owner)
	if err != nil {
		return statusErr("write", p, err)
	}
	s.log.Debug("file written", "path", p, "size", size)
	return stream.SendAndClose(&agentv1.WriteFileResponse{Size: size})
}

// writeAtomic copies the stream's data into a new temporary file in dirfd,
// sets mode (not narrowed by the umask), fsyncs it and renames it to base, then fsyncs the directory. On any error,
// including a cancelled stream, the temporary file is removed.
func (s *server) writeAtomic(stream agentv1.Agent_WriteFileServer, dirfd int, base string, mode uint32, owner *user) (int64, error) {
	tmp := tempName(base)
	fd, err := unix.Openat(dirfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return 0, err
	}
	f := os.NewFile(uintptr(fd), tmp)
	committed := false
	defer func() {
		if !committed {
			f.Close()
			_ = unix.Unlinkat(dirfd, tmp, 0)
		}
	}()
	var size int64
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
		data := m.GetData()
		if m.GetHeader() != nil {
			return 0, invalid("a second WriteFile header")
		}
		n, err := f.Write(data)
		size += int64(n)
		if err != nil {
			return 0, err
		}
	}
	if owner != nil {
		if err := unix.Fchown(fd, int(owner.uid), int(owner.gid)); err != nil {
			return 0, err
		}
	}
	// After the chown, which clears setuid/setgid bits.
	if err := unix.Fchmod(fd, mode); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := unix.Renameat(dirfd, tmp, dirfd, base); err != nil {
		return 0, err
	}
	committed = true
	return size, unix.Fsync(dirfd)
}

func tempName(base string) string {
	if len(base) > 100 {
		base = base[:100]
	}
	var r [8]byte
	_, _ = rand.Read(r[:])
	return tempPrefix + base + "." + hex.EncodeToString(r[:])
}

// MakeDir implements agentv1.AgentServer.
func (s *server) MakeDir(_ context.Context, req *agentv1.MakeDirRequest) (*agentv1.MakeDirResponse, error) {
	p, err := cleanPath("path", req.Path)
	if err != nil {
		return nil, err
	}
	if req.Mode&^0o7777 != 0 {
		return nil, invalid("mode %#o has bits outside 07777", req.Mode)
	}
	mode := req.Mode
	if mode == 0 {
		mode = 0o755
	}
	owner, err := s.owner(req.Owner)
	if err != nil {
		return nil, err
	}
	if err := s.root.mkdirAll(p, mode, owner); err != nil {
		return nil, statusErr("mkdir", p, err)
	}
	return &agentv1.MakeDirResponse{}, nil
}

// owner resolves a file owner spec; nil means the agent's own user.
func (s *server) owner(spec string) (*user, error) {
	if spec == "" {
		return nil, nil
	}
	u, err := s.lookupUser(spec)
	if err != nil {
		return nil, err
	}
	if u.uid == uint32(os.Getuid()) && u.gid == uint32(os.Getgid()) {
		return nil, nil
	}
	return u, nil
}

// Remove implements agentv1.AgentServer.
func (s *server) Remove(_ context.Context, req *agentv1.RemoveRequest) (*agentv1.RemoveResponse, error) {
	p, err := cleanPath("path", req.Path)
	if err != nil {
		return nil, err
	}
	if p == "/" {
		return nil, invalid("refusing to remove /")
	}
	dirfd, base, err := s.root.parent(p)
	if err != nil {
		return nil, statusErr("remove", p, err)
	}
	defer unix.Close(dirfd)
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, statusErr("remove", p, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		err = unix.Unlinkat(dirfd, base, 0)
	case req.Recursive:
		err = removeAll(dirfd, base)
	default:
		err = unix.Unlinkat(dirfd, base, unix.AT_REMOVEDIR)
	}
	if err != nil {
		return nil, statusErr("remove", p, err)
	}
	return &agentv1.RemoveResponse{}, nil
}

// removeAll removes the directory name in dirfd and everything below it,
// never following symlinks.
func removeAll(dirfd int, name string) error {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	names, err := f.Readdirnames(-1)
	if err != nil {
		f.Close()
		return err
	}
	for _, n := range names {
		err := unix.Unlinkat(fd, n, 0)
		if err == unix.EISDIR {
			err = removeAll(fd, n)
		}
		if err != nil && err != unix.ENOENT {
			f.Close()
			return err
		}
	}
	f.Close()
	return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
}

// Rename implements agentv1.AgentServer.
func (s *server) Rename(_ context.Context, req *agentv1.RenameRequest) (*agentv1.RenameResponse, error) {
	from, err := cleanPath("old_path", req.OldPath)
	if err != nil {
		return nil, err
	}
	to, err := cleanPath("new_path", req.NewPath)
	if err != nil {
		return nil, err
	}
	if from == "/" || to == "/" {
		return nil, invalid("cannot rename / (old_path %q, new_path %q)", req.OldPath, req.NewPath)
	}
	fromDir, fromBase, err := s.root.parent(from)
	if err != nil {
		return nil, statusErr("rename", from, err)
	}
	defer unix.Close(fromDir)
	toDir, toBase, err := s.root.parent(to)
	if err != nil {
		return nil, statusErr("rename to", to, err)
	}
	defer unix.Close(toDir)
	var flags uint
	if req.NoReplace {
		flags = unix.RENAME_NOREPLACE
	}
	if err := unix.Renameat2(fromDir, fromBase, toDir, toBase, flags); err != nil {
		return nil, statusErr("rename", from+" to "+to, err)
	}
	return &agentv1.RenameResponse{}, nil
}

package agent

import (
	"context"
	"errors"
	"io"
	"os"
	"path"
	"slices"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

const (
	// fileChunk is the data size of one ReadFile message.
	fileChunk = 128 << 10
	// defaultMaxEntries caps a List without max_entries.
	defaultMaxEntries = 10000
	// maxListBytes keeps a List response well under the message size limit.
	maxListBytes = 8 << 20
	// maxListDepth bounds List recursion.
	maxListDepth = 64
)

func fileInfo(p string, st *unix.Stat_t, target string) *agentv1.FileInfo {
	t := agentv1.FileType_FILE_TYPE_OTHER
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		t = agentv1.FileType_FILE_TYPE_REGULAR
	case unix.S_IFDIR:
		t = agentv1.FileType_FILE_TYPE_DIRECTORY
	case unix.S_IFLNK:
		t = agentv1.FileType_FILE_TYPE_SYMLINK
	}
	name := path.Base(p)
	return &agentv1.FileInfo{
		Path:       p,
		Name:       name,
		Type:       t,
		Size:       st.Size,
		Mode:       st.Mode & 0o7777,
		ModTime:    timestamppb.New(time.Unix(st.Mtim.Unix())),
		Uid:        st.Uid,
		Gid:        st.Gid,
		LinkTarget: target,
	}
}

// statAt describes name in dirfd without following a final symlink.
func statAt(dirfd int, name, p string) (*agentv1.FileInfo, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, err
	}
	target := ""
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return nil, err
		}
		target = string(buf[:n])
	}
	return fileInfo(p, &st, target), nil
}

// Stat implements agentv1.AgentServer.
func (s *server) Stat(_ context.Context, req *agentv1.StatRequest) (*agentv1.StatResponse, error) {
	p, err := cleanPath("path", req.Path)
	if err != nil {
		return nil, err
	}
	dirfd, base, err := s.root.parent(p)
	if err != nil {
		return nil, statusErr("stat", p, err)
	}
	defer unix.Close(dirfd)
	if base == "" {
		base = "."
	}
	info, err := statAt(dirfd, base, p)
	if err != nil {
		return nil, statusErr("stat", p, err)
	}
	return &agentv1.StatResponse{Info: info}, nil
}

// List implements agentv1.AgentServer.
func (s *server) List(_ context.Context, req *agentv1.ListRequest) (*agentv1.ListResponse, error) {
	p, err := cleanPath("path", req.Path)
	if err != nil {
		return nil, err
	}
	depth := int(req.Depth)
	switch {
	case depth < 0 || depth > maxListDepth:
		return nil, invalid("depth %d is out of range 0..%d", depth, maxListDepth)
	case depth == 0:
		depth = 1
	}
	max := int(req.MaxEntries)
	if max < 0 {
		return nil, invalid("max_entries %d is negative", max)
	}
	if max == 0 {
		max = defaultMaxEntries
	}
	fd, err := s.root.open(p, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, statusErr("list", p, err)
	}
	l := &lister{max: max}
	if err := l.walk(fd, p, depth); err != nil {
		return nil, statusErr("list", p, err)
	}
	return &agentv1.ListResponse{Entries: l.entries, Truncated: l.truncated}, nil
}

type lister struct {
	max       int
	bytes     int
	entries   []*agentv1.FileInfo
	truncated bool
}

// walk lists the directory fd (which it closes), pre-order, sorted by name.
// It does not descend into symlinks.
func (l *lister) walk(fd int, dir string, depth int) error {
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, name := range names {
		if len(l.entries) >= l.max || l.bytes >= maxListBytes {
			l.truncated = true
			return nil
		}
		p := path.Join(dir, name)
		info, err := statAt(fd, name, p)
		if err == unix.ENOENT {
			continue // removed while listing
		}
		if err != nil {
			return err
		}
		l.entries = append(l.entries, info)
		l.bytes += 64 + 2*len(p) + len(info.LinkTarget)
		if depth > 1 && info.Type == agentv1.FileType_FILE_TYPE_DIRECTORY {
			child, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				if err == unix.EACCES || err == unix.ENOENT {
					continue
				}
				return err
			}
			if err := l.walk(child, p, depth-1); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReadFile implements agentv1.AgentServer.
func (s *server) ReadFile(req *agentv1.ReadFileRequest, stream agentv1.Agent_ReadFileServer) error {
	p, err := cleanPath("path", req.Path)
	if err != nil {
		return err
	}
	// O_NONBLOCK: opening a FIFO must not hang; regular files ignore it.
	fd, err := s.root.open(p, unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return statusErr("read", p, err)
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return statusErr("read", p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return invalid("read %s: not a regular file", p)
	}
	first := &agentv1.ReadFileResponse{Info: fileInfo(p, &st, "")}
	for {
		// A fresh buffer each time: the sent message must not change.
		buf := make([]byte, fileChunk)
		n, err := io.ReadFull(f, buf)
		if n > 0 || first != nil {
			m := first
			if m == nil {
				m = &agentv1.ReadFileResponse{}
			}
			m.Data = buf[:n]
			if err := stream.Send(m); err != nil {
				return err
			}
			first = nil
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return statusErr("read", p, err)
		}
	}
}

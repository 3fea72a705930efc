package envd

import (
	"context"
	"errors"
	"io/fs"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
	filesystempb "github.com/warrenhq/warren/proto/e2b/filesystem"
	"github.com/warrenhq/warren/proto/e2b/filesystem/filesystempbconnect"
)

// filesystemService implements filesystem.Filesystem over the agent's file
// calls and watches.
type filesystemService struct {
	filesystempbconnect.UnimplementedFilesystemHandler
	h *Handler
}

var _ filesystempbconnect.FilesystemHandler = (*filesystemService)(nil)

// entry describes fi as E2B does: permission bits as mode, `ls -l`
// permissions, owner and group names (numeric when the sandbox has none).
func entry(acc *accounts, fi *agentv1.FileInfo) *filesystempb.EntryInfo {
	e := &filesystempb.EntryInfo{
		Name:         fi.GetName(),
		Path:         fi.GetPath(),
		Size:         fi.GetSize(),
		Mode:         fi.GetMode() & 0o777,
		ModifiedTime: fi.GetModTime(),
		Owner:        strconv.FormatUint(uint64(fi.GetUid()), 10),
		Group:        strconv.FormatUint(uint64(fi.GetGid()), 10),
	}
	if n, ok := acc.users[fi.GetUid()]; ok {
		e.Owner = n
	}
	if n, ok := acc.groups[fi.GetGid()]; ok {
		e.Group = n
	}
	mode := fs.FileMode(fi.GetMode() & 0o777)
	switch fi.GetType() {
	case agentv1.FileType_FILE_TYPE_REGULAR:
		e.Type = filesystempb.FileType_FILE_TYPE_FILE
	case agentv1.FileType_FILE_TYPE_DIRECTORY:
		e.Type, mode = filesystempb.FileType_FILE_TYPE_DIRECTORY, mode|fs.ModeDir
	case agentv1.FileType_FILE_TYPE_SYMLINK:
		e.Type, mode = filesystempb.FileType_FILE_TYPE_SYMLINK, mode|fs.ModeSymlink
		t := fi.GetLinkTarget()
		e.SymlinkTarget = &t
	default:
		mode |= fs.ModeIrregular
	}
	e.Permissions = mode.String()
	if e.ModifiedTime == nil {
		e.ModifiedTime = timestamppb.New(time.Unix(0, 0))
	}
	return e
}

// stat resolves p and describes it.
func (s *filesystemService) stat(ctx context.Context, p string) (*filesystempb.EntryInfo, error) {
	c := callFrom(ctx)
	acc, err := s.h.accounts.get(ctx, c)
	if err != nil {
		return nil, connectErr(ctx, s.h.log, err)
	}
	r, err := c.agent.Raw().Stat(ctx, &agentv1.StatRequest{Path: p})
	if err != nil {
		return nil, connectErr(ctx, s.h.log, err)
	}
	return entry(acc, r.GetInfo()), nil
}

func (s *filesystemService) path(ctx context.Context, field, p string) (string, error) {
	return s.h.resolve(ctx, callFrom(ctx), field, p)
}

func (s *filesystemService) Stat(ctx context.Context, req *connect.Request[filesystempb.StatRequest]) (*connect.Response[filesystempb.StatResponse], error) {
	p, err := s.path(ctx, "path", req.Msg.GetPath())
	if err != nil {
		return nil, err
	}
	e, err := s.stat(ctx, p)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&filesystempb.StatResponse{Entry: e}), nil
}

func (s *filesystemService) MakeDir(ctx context.Context, req *connect.Request[filesystempb.MakeDirRequest]) (*connect.Response[filesystempb.MakeDirResponse], error) {
	c := callFrom(ctx)
	p, err := s.path(ctx, "path", req.Msg.GetPath())
	if err != nil {
		return nil, err
	}
	// envd answers AlreadyExists for an existing path (makeDir → false).
	if _, err := c.agent.Raw().Stat(ctx, &agentv1.StatRequest{Path: p}); err == nil {
		return nil, connect.NewError(connect.CodeAlreadyExists, errors.New("path already exists: "+p))
	} else if status.Code(err) != codes.NotFound {
		return nil, connectErr(ctx, s.h.log, err)
	}
	if _, err := c.agent.Raw().MakeDir(ctx, &agentv1.MakeDirRequest{Path: p, Owner: c.user}); err != nil {
		return nil, connectErr(ctx, s.h.log, err)
	}
	e, err := s.stat(ctx, p)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&filesystempb.MakeDirResponse{Entry: e}), nil
}

func (s *filesystemService) Move(ctx context.Context, req *connect.Request[filesystempb.MoveRequest]) (*connect.Response[filesystempb.MoveResponse], error) {
	c := callFrom(ctx)
	from, err := s.path(ctx, "source", req.Msg.GetSource())
	if err != nil {
		return nil, err
	}
	to, err := s.path(ctx, "destination", req.Msg.GetDestination())
	if err != nil {
		return nil, err
	}
	if _, err := c.agent.Raw().Rename(ctx, &agentv1.RenameRequest{OldPath: from, NewPath: to}); err != nil {
		return nil, connectErr(ctx, s.h.log, err)
	}
	e, err := s.stat(ctx, to)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&filesystempb.MoveResponse{Entry: e}), nil
}

// maxListEntries is the most entries ListDir answers; more is an error
// rather than a silently short listing.
const maxListEntries = 10000

func (s *filesystemService) ListDir(ctx context.Context, req *connect.Request[filesystempb.ListDirRequest]) (*connect.Response[filesystempb.ListDirResponse], error) {
	c := callFrom(ctx)
	p, err := s.path(ctx, "path", req.Msg.GetPath())
	if err != nil {
		return nil, err
	}
	depth := req.Msg.GetDepth()
	if depth == 0 {
		depth = 1
	}
	if depth > 64 {
		return nil, invalidArg("depth %d: at most 64", depth)
	}
	acc, err := s.h.accounts.get(ctx, c)
	if err != nil {
		return nil, connectErr(ctx, s.h.log, err)
	}
	if st, err := c.agent.Raw().Stat(ctx, &agentv1.StatRequest{Path: p}); err != nil {
		return nil, connectErr(ctx, s.h.log, err)
	} else if st.GetInfo().GetType() != agentv1.FileType_FILE_TYPE_DIRECTORY {
		return nil, invalidArg("path %s is not a directory", p)
	}
	r, err := c.agent.Raw().List(ctx, &agentv1.ListRequest{Path: p, Depth: int32(depth), MaxEntries: maxListEntries})
	if err != nil {
		return nil, connectErr(ctx, s.h.log, err)
	}
	if r.GetTruncated() {
		return nil, connect.NewError(connect.CodeResourceExhausted, errors.New("the listing has more than 10000 entries; list a smaller depth or a subdirectory"))
	}
	out := &filesystempb.ListDirResponse{}
	for _, fi := range r.GetEntries() {
		out.Entries = append(out.Entries, entry(acc, fi))
	}
	return connect.NewResponse(out), nil
}

func (s *filesystemService) Remove(ctx context.Context, req *connect.Request[filesystempb.RemoveRequest]) (*connect.Response[filesystempb.RemoveResponse], error) {
	p, err := s.path(ctx, "path", req.Msg.GetPath())
	if err != nil {
		return nil, err
	}
	if p == "/" {
		return nil, invalidArg("path: refusing to remove /")
	}
	if _, err := callFrom(ctx).agent.Raw().Remove(ctx, &agentv1.RemoveRequest{Path: p, Recursive: true}); err != nil {
		return nil, connectErr(ctx, s.h.log, err)
	}
	return connect.NewResponse(&filesystempb.RemoveResponse{}), nil
}

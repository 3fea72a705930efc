package agent

import (
	"context"
	"errors"
	"fmt"
	"google.golang.org/grpc/status"
	"io"
	"io/fs"
	"syscall"
	"time"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

// FileInfo describes a path inside the sandbox.
type FileInfo struct {
	Path    string
	Name    string
	Size    int64
	Mode    fs.FileMode // permissions plus type, setuid, setgid and sticky bits
	ModTime time.Time
	UID     uint32
	GID     uint32
	// LinkTarget is the text of a symlink.
	LinkTarget string
}

// IsDir reports whether the path is a directory.
func (fi FileInfo) IsDir() bool { return fi.Mode.IsDir() }

func fromProtoInfo(p *agentv1.FileInfo) FileInfo {
	mode := fs.FileMode(p.Mode & 0o777)
	if p.Mode&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if p.Mode&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if p.Mode&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	switch p.Type {
	case agentv1.FileType_FILE_TYPE_DIRECTORY:
		mode |= fs.ModeDir
	case agentv1.FileType_FILE_TYPE_SYMLINK:
		mode |= fs.ModeSymlink
	case agentv1.FileType_FILE_TYPE_OTHER:
		mode |= fs.ModeIrregular
	}
	return FileInfo{
		Path:       p.Path,
		Name:       p.Name,
		Size:       p.Size,
		Mode:       mode,
		ModTime:    p.ModTime.AsTime(),
		UID:        p.Uid,
		GID:        p.Gid,
		LinkTarget: p.LinkTarget,
	}
}

// Stat describes path (a final symlink is not followed).
func (c *Client) Stat(ctx context.Context, path string) (FileInfo, error) {
	r, err := c.rpc.Stat(ctx, &agentv1.StatRequest{Path: path})
	if err != nil {
		return FileInfo{}, fmt.Errorf("agent %s: stat %s: %w", c.socket, path, err)
	}
	return fromProtoInfo(r.Info), nil
}

// ListResult is a directory listing, pre-order and sorted by name.
type ListResult struct {
	Entries   []FileInfo
	Truncated bool // the agent's entry cap (10000) cut it short
}

// List lists the directory path down to depth levels (0 or 1: its entries).
func (c *Client) List(ctx context.Context, path string, depth int) (ListResult, error) {
	r, err := c.rpc.List(ctx, &agentv1.ListRequest{Path: path, Depth: int32(depth)})
	if err != nil {
		return ListResult{}, fmt.Errorf("agent %s: list %s: %w", c.socket, path, err)
	}
	out := ListResult{Entries: make([]FileInfo, len(r.Entries)), Truncated: r.Truncated}
	for i, e := range r.Entries {
		out.Entries[i] = fromProtoInfo(e)
	}
	return out, nil
}

// Upload writes r to path with mode (permission bits), creating missing
// parent directories. The file appears atomically once r is fully sent; if
// r fails or ctx is cancelled, nothing is left behind.
func (c *Client) Upload(ctx context.Context, path string, mode fs.FileMode, r io.Reader) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // on error, cancelling the stream discards the upload
	fail := func(err error) (int64, error) {
		return 0, fmt.Errorf("agent %s: upload %s: %w", c.socket, path, err)
	}
	stream, err := c.rpc.WriteFile(ctx)
	if err != nil {
		return fail(err)
	}
	perm := uint32(mode.Perm())
	if mode&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if mode&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if mode&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	sendErr := stream.Send(&agentv1.WriteFileRequest{Msg: &agentv1.WriteFileRequest_Header{
		Header: &agentv1.WriteFileHeader{Path: path, Mode: perm, MkdirParents: true},
	}})
	// The source is read on its own goroutine so a cancelled ctx ends the
	// upload even while a Read blocks (that goroutine then lingers until the
	// Read returns).
	chunks := make(chan readChunk, 1)
	go readChunks(ctx, r, chunks)
	for sendErr == nil {
		var ch readChunk
		select {
		case <-ctx.Done():
			return fail(status.FromContextError(ctx.Err()).Err())
		case ch = <-chunks:
		}
		if len(ch.data) > 0 {
			// Send copies the message into the transport before returning.
			sendErr = stream.Send(&agentv1.WriteFileRequest{Msg: &agentv1.WriteFileRequest_Data{Data: ch.data}})
		}
		if errors.Is(ch.err, io.EOF) {
			break
		}
		if ch.err != nil {
			return fail(fmt.Errorf("reading source: %w", ch.err))
		}
	}
	// A failed Send means the server ended the stream; CloseAndRecv gets why.
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return fail(err)
	}
	return resp.Size, nil
}

// readChunk is one Read of an upload's source.
type readChunk struct {
	data []byte
	err  error
}

// readChunks reads r into fresh ChunkSize buffers until it fails (io.EOF
// included) or ctx ends.
func readChunks(ctx context.Context, r io.Reader, out chan<- readChunk) {
	for {
		buf := make([]byte, ChunkSize)
		n, err := r.Read(buf)
		select {
		case out <- readChunk{data: buf[:n], err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// Download copies the regular file path to w and returns its description.
func (c *Client) Download(ctx context.Context, path string, w io.Writer) (FileInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) (FileInfo, error) {
		return FileInfo{}, fmt.Errorf("agent %s: download %s: %w", c.socket, path, err)
	}
	stream, err := c.rpc.ReadFile(ctx, &agentv1.ReadFileRequest{Path: path})
	if err != nil {
		return fail(err)
	}
	var info FileInfo
	for first := true; ; first = false {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) && !first {
			return info, nil
		}
		if err != nil {
			return fail(err)
		}
		if first {
			if m.Info == nil {
				return fail(errors.New("first message carries no file info"))
			}
			info = fromProtoInfo(m.Info)
		}
		if _, err := w.Write(m.Data); err != nil {
			return fail(fmt.Errorf("writing: %w", err))
		}
	}
}

// MakeDir creates path and its missing parents with mode (0: 0755).
func (c *Client) MakeDir(ctx context.Context, path string, mode fs.FileMode) error {
	if _, err := c.rpc.MakeDir(ctx, &agentv1.MakeDirRequest{Path: path, Mode: uint32(mode.Perm())}); err != nil {
		return fmt.Errorf("agent %s: mkdir %s: %w", c.socket, path, err)
	}
	return nil
}

// Remove removes path; a non-empty directory needs recursive.
func (c *Client) Remove(ctx context.Context, path string, recursive bool) error {
	if _, err := c.rpc.Remove(ctx, &agentv1.RemoveRequest{Path: path, Recursive: recursive}); err != nil {
		return fmt.Errorf("agent %s: remove %s: %w", c.socket, path, err)
	}
	return nil
}

// Rename renames from to to, replacing to if it exists.
func (c *Client) Rename(ctx context.Context, from, to string) error {
	if _, err := c.rpc.Rename(ctx, &agentv1.RenameRequest{OldPath: from, NewPath: to}); err != nil {
		return fmt.Errorf("agent %s: rename %s to %s: %w", c.socket, from, to, err)
	}
	return nil
}

// Process is a process the agent started.
type Process struct {
	Pid        int
	Tag        string
	Cmd        []string
	StartedAt  time.Time
	Running    bool
	Background bool
	Exit       *ExecResult // set once it has exited
}

// ListProcesses lists the agent's running processes and its exited
// background processes, oldest first.
func (c *Client) ListProcesses(ctx context.Context) ([]Process, error) {
	r, err := c.rpc.ListProcesses(ctx, &agentv1.ListProcessesRequest{})
	if err != nil {
		return nil, fmt.Errorf("agent %s: list processes: %w", c.socket, err)
	}
	out := make([]Process, len(r.Processes))
	for i, p := range r.Processes {
		out[i] = Process{
			Pid: int(p.Pid), Tag: p.Tag, Cmd: p.Cmd, StartedAt: p.StartedAt.AsTime(),
			Running: p.Running, Background: p.Background,
		}
		if x := p.Exit; x != nil {
			out[i].Exit = &ExecResult{
				Pid: int(p.Pid), Tag: p.Tag, ExitCode: int(x.ExitCode), Signal: int(x.Signal),
				TimedOut: x.TimedOut, Duration: x.Duration.AsDuration(),
			}
		}
	}
	return out, nil
}

// Target names the process a signal goes to: a pid or the tag of a running
// process. Group signals its whole process group.
type Target struct {
	Pid   int
	Tag   string
	Group bool
}

// Signal sends sig to the target and returns the pid signalled.
func (c *Client) Signal(ctx context.Context, t Target, sig syscall.Signal) (int, error) {
	req := &agentv1.SignalRequest{Signal: int32(sig), Group: t.Group}
	switch {
	case t.Pid != 0 && t.Tag != "":
		return 0, fmt.Errorf("agent %s: signal: set Pid or Tag, not both", c.socket)
	case t.Tag != "":
		req.Target = &agentv1.SignalRequest_Tag{Tag: t.Tag}
	default:
		req.Target = &agentv1.SignalRequest_Pid{Pid: int32(t.Pid)}
	}
	r, err := c.rpc.Signal(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("agent %s: signal %v to %+v: %w", c.socket, sig, t, err)
	}
	return int(r.Pid), nil
}

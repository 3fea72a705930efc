package envd

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/warrenhq/warren/id"
	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
	"github.com/warrenhq/warren/sandbox/agent"
)

// fakeAgent answers the agent calls envd makes with fixed results, so the
// envd layer's decoding and translation can be tested (and fuzzed) without
// running anything.
type fakeAgent struct {
	agentv1.UnimplementedAgentServer
	committed *atomic.Int64 // uploads completed (the client half-closed)
}

// WriteFile consumes an upload; it counts as committed only when the
// client ends it cleanly, as the real agent's rename would.
func (f fakeAgent) WriteFile(s agentv1.Agent_WriteFileServer) error {
	var size int64
	for {
		m, err := s.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		size += int64(len(m.GetData()))
	}
	if f.committed != nil {
		f.committed.Add(1)
	}
	return s.SendAndClose(&agentv1.WriteFileResponse{Size: size})
}

func (fakeAgent) Exec(s agentv1.Agent_ExecServer) error {
	m, err := s.Recv()
	if err != nil {
		return err
	}
	if m.GetStart() == nil {
		return status.Error(codes.InvalidArgument, "the first Exec message must be start")
	}
	for _, r := range []*agentv1.ExecResponse{
		{Msg: &agentv1.ExecResponse_Started{Started: &agentv1.ExecStarted{Pid: 42}}},
		{Msg: &agentv1.ExecResponse_Stdout{Stdout: []byte("out")}},
		{Msg: &agentv1.ExecResponse_Exit{Exit: &agentv1.ExecExit{ExitCode: 2}}},
	} {
		if err := s.Send(r); err != nil {
			return err
		}
	}
	return nil
}

func (fakeAgent) Stat(_ context.Context, r *agentv1.StatRequest) (*agentv1.StatResponse, error) {
	if r.Path == "/missing" {
		return nil, status.Error(codes.NotFound, "stat /missing: no such file or directory")
	}
	return &agentv1.StatResponse{Info: &agentv1.FileInfo{Path: r.Path, Name: filepath.Base(r.Path), Type: agentv1.FileType_FILE_TYPE_REGULAR, Mode: 0o644, Uid: 1000, Gid: 1000}}, nil
}

func (fakeAgent) ReadFile(r *agentv1.ReadFileRequest, s agentv1.Agent_ReadFileServer) error {
	data := map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
		"/etc/group":  "root:x:0:\nuser:x:1000:\n",
	}[r.Path]
	return s.Send(&agentv1.ReadFileResponse{Info: &agentv1.FileInfo{Path: r.Path, Size: int64(len(data))}, Data: []byte(data)})
}

func (fakeAgent) WriteStdin(context.Context, *agentv1.WriteStdinRequest) (*agentv1.WriteStdinResponse, error) {
	return &agentv1.WriteStdinResponse{}, nil
}

func (fakeAgent) Health(context.Context, *agentv1.HealthRequest) (*agentv1.HealthResponse, error) {
	return &agentv1.HealthResponse{Ok: true}, nil
}

type fixedAgents struct{ c *agent.Client }

func (f fixedAgents) Agent(context.Context, id.TeamID, id.SandboxID) (*agent.Client, error) {
	return f.c, nil
}

const testToken = "good-token"

// newTestHandler serves a Handler over a fake agent; the token testToken
// is accepted for any sandbox.
func newTestHandler(tb testing.TB) *Handler {
	h, _ := newTestHandlerWith(tb, DefaultConfig())
	return h
}

// newTestHandlerWith is newTestHandler with cfg's limits; it also returns
// the count of committed uploads.
func newTestHandlerWith(tb testing.TB, cfg Config) (*Handler, *atomic.Int64) {
	tb.Helper()
	committed := new(atomic.Int64)
	sock := filepath.Join(tb.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		tb.Fatal(err)
	}
	gs := grpc.NewServer()
	agentv1.RegisterAgentServer(gs, fakeAgent{committed: committed})
	go gs.Serve(ln)
	tb.Cleanup(gs.Stop)
	c, err := agent.Dial(context.Background(), sock)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	cfg.Agents = fixedAgents{c}
	cfg.Authorize = func(_ context.Context, _ id.SandboxID, tok string) (id.TeamID, error) {
		if tok != testToken {
			return id.TeamID{}, ErrDenied
		}
		return id.NewTeamID(), nil
	}
	h, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return h, committed
}

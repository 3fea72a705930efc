package node

import (
	"context"
	"errors"
	"io"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/warrenhq/warren/id"
	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
	nodev1 "github.com/warrenhq/warren/proto/node/v1"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store/db"
)

// The owner's side of the calls on a sandbox that another node received (see
// owner.go for the caller's side). Every handler serves the call with
// sandboxes.FromPeer, so a sandbox that is not this node's is not found rather
// than sent on.

func parseRef(r *nodev1.SandboxRef) (id.TeamID, id.SandboxID, error) {
	team, err := id.ParseTeamID(r.GetTeamId())
	if err != nil {
		return team, id.SandboxID{}, status.Error(codes.InvalidArgument, "team_id: "+err.Error())
	}
	sb, err := id.ParseSandboxID(r.GetSandboxId())
	if err != nil {
		return team, sb, status.Error(codes.InvalidArgument, "sandbox_id: "+err.Error())
	}
	return team, sb, nil
}

// KillSandbox kills a sandbox this node runs.
func (r nodeRPC) KillSandbox(ctx context.Context, req *nodev1.SandboxRef) (*nodev1.SandboxOpResponse, error) {
	return r.sandboxOp(ctx, req, r.cn.n.service.Kill)
}

// PauseSandbox pauses a sandbox this node runs.
func (r nodeRPC) PauseSandbox(ctx context.Context, req *nodev1.SandboxRef) (*nodev1.SandboxOpResponse, error) {
	return r.sandboxOp(ctx, req, r.cn.n.service.Pause)
}

// ResumeSandbox resumes a sandbox this node runs.
func (r nodeRPC) ResumeSandbox(ctx context.Context, req *nodev1.SandboxRef) (*nodev1.SandboxOpResponse, error) {
	return r.sandboxOp(ctx, req, r.cn.n.service.Resume)
}

func (r nodeRPC) sandboxOp(ctx context.Context, req *nodev1.SandboxRef, op func(context.Context, id.TeamID, id.SandboxID) (db.Sandbox, error)) (*nodev1.SandboxOpResponse, error) {
	team, sb, err := parseRef(req)
	if err != nil {
		return nil, err
	}
	if _, err := op(sandboxes.FromPeer(ctx), team, sb); err != nil {
		return nil, grpcError(err)
	}
	return &nodev1.SandboxOpResponse{}, nil
}

// SnapshotSandbox captures a sandbox this node runs as a template.
func (r nodeRPC) SnapshotSandbox(ctx context.Context, req *nodev1.SnapshotSandboxRequest) (*nodev1.SnapshotSandboxResponse, error) {
	team, sb, err := parseRef(req.GetSandbox())
	if err != nil {
		return nil, err
	}
	tpl, err := r.cn.n.service.Snapshot(sandboxes.FromPeer(ctx), r.cn.n.pool, team, sb, req.GetName())
	if err != nil {
		return nil, grpcError(err)
	}
	return &nodev1.SnapshotSandboxResponse{TemplateId: tpl.ID.String()}, nil
}

// DialPort connects to a port of a sandbox this node runs and relays bytes
// both ways until either side ends.
func (r nodeRPC) DialPort(stream nodev1.Node_DialPortServer) error {
	ctx := stream.Context()
	m, err := stream.Recv()
	if err != nil {
		return err
	}
	open := m.GetOpen()
	if open == nil {
		return status.Error(codes.InvalidArgument, "the first message must be open")
	}
	team, sb, err := parseRef(open.GetSandbox())
	if err != nil {
		return err
	}
	conn, err := r.cn.n.service.DialPort(sandboxes.FromPeer(ctx), team, sb, int(open.GetPort()))
	var pe *sandboxes.PortError
	if errors.As(err, &pe) {
		return status.Error(codes.Unavailable, portRefused)
	}
	if err != nil {
		return grpcError(err)
	}
	defer conn.Close()
	// An empty data frame tells the caller the connection is made.
	if err := stream.Send(&nodev1.PortFrame{Msg: &nodev1.PortFrame_Data{}}); err != nil {
		return err
	}
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				if err == io.EOF {
					if cw, ok := conn.(interface{ CloseWrite() error }); ok {
						_ = cw.CloseWrite()
					}
				} else {
					conn.Close()
				}
				return
			}
			if _, err := conn.Write(m.GetData()); err != nil {
				conn.Close()
				return
			}
		}
	}()
	buf := make([]byte, portChunk)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if err := stream.Send(&nodev1.PortFrame{Msg: &nodev1.PortFrame_Data{Data: buf[:n]}}); err != nil {
				return err
			}
		}
		if err != nil {
			if err == io.EOF || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return status.Error(codes.Aborted, "the connection in the sandbox failed: "+err.Error())
		}
	}
}

// agentRelay serves warren.agent.v1.Agent on the node's gRPC server: each
// call names a sandbox this node runs (metadata warren-sandbox-id and
// warren-team-id) and is passed to its agent as it is, streams as streams;
// the agent's statuses come back unchanged.
type agentRelay struct {
	agentv1.UnimplementedAgentServer
	svc *sandboxes.Service
}

// target returns the agent of the sandbox a call names.
func (a agentRelay) target(ctx context.Context) (agentv1.AgentClient, error) {
	_ = grpc.SetTrailer(ctx, metadata.Pairs(mdRelayed, "1"))
	md, _ := metadata.FromIncomingContext(ctx)
	one := func(k string) string {
		if v := md.Get(k); len(v) == 1 {
			return v[0]
		}
		return ""
	}
	team, sb, err := parseRef(&nodev1.SandboxRef{SandboxId: one(mdSandbox), TeamId: one(mdTeam)})
	if err != nil {
		return nil, err
	}
	c, err := a.svc.Agent(sandboxes.FromPeer(ctx), team, sb)
	if err != nil {
		return nil, grpcError(err)
	}
	return c.Raw(), nil
}

func relayUnary[Req, Resp any](ctx context.Context, a agentRelay, req *Req,
	call func(agentv1.AgentClient, context.Context, *Req, ...grpc.CallOption) (*Resp, error)) (*Resp, error) {
	c, err := a.target(ctx)
	if err != nil {
		return nil, err
	}
	return call(c, ctx, req)
}

func (a agentRelay) ListProcesses(ctx context.Context, req *agentv1.ListProcessesRequest) (*agentv1.ListProcessesResponse, error) {
	return relayUnary(ctx, a, req, agentv1.AgentClient.ListProcesses)
}

func (a agentRelay) Signal(ctx context.Context, req *agentv1.SignalRequest) (*agentv1.SignalResponse, error) {
	return relayUnary(ctx, a, req, agentv1.AgentClient.Signal)
}

func (a agentRelay) Stat(ctx context.Context, req *agentv1.StatRequest) (*agentv1.StatResponse, error) {
	return relayUnary(ctx, a, req, agentv1.AgentClient.Stat)
}

func (a agentRelay) List(ctx context.Context, req *agentv1.ListRequest) (*agentv1.ListResponse, error) {
	return relayUnary(ctx, a, req, agentv1.AgentClient.List)
}

func (a agentRelay) MakeDir(ctx context.Context, req *agentv1.MakeDirRequest) (*agentv1.MakeDirResponse, error) {
	return relayUnary(ctx, a, req, agentv1.AgentClient.MakeDir)
}

func (a agentRelay) Remove(ctx context.Context, req *agentv1.RemoveRequest) (*agentv1.RemoveResponse, error) {
	return relayUnary(ctx, a, req, agentv1.AgentClient.Remove)
}

func (a agentRelay) Rename(ctx context.Context, req *agentv1.RenameRequest) (*agentv1.RenameResponse, error) {
	return relayUnary(ctx, a, req, agentv1.AgentClient.Rename)
}

func (a agentRelay) Health(ctx context.Context, req *agentv1.HealthRequest) (*agentv1.HealthResponse, error) {
	return relayUnary(ctx, a, req, agentv1.AgentClient.Health)
}

func (a agentRelay) WriteStdin(ctx context.Context, req *agentv1.WriteStdinRequest) (*agentv1.WriteStdinResponse, error) {
	return relayUnary(ctx, a, req, agentv1.AgentClient.WriteStdin)
}

func (a agentRelay) Resize(ctx context.Context, req *agentv1.ResizeRequest) (*agentv1.ResizeResponse, error) {
	return relayUnary(ctx, a, req, agentv1.AgentClient.Resize)
}

func (a agentRelay) CreateWatcher(ctx context.Context, req *agentv1.WatchRequest) (*agentv1.CreateWatcherResponse, error) {
	return relayUnary(ctx, a, req, agentv1.AgentClient.CreateWatcher)
}

func (a agentRelay) WatcherEvents(ctx context.Context, req *agentv1.WatcherEventsRequest) (*agentv1.WatcherEventsResponse, error) {
	return relayUnary(ctx, a, req, agentv1.AgentClient.WatcherEvents)
}

func (a agentRelay) RemoveWatcher(ctx context.Context, req *agentv1.RemoveWatcherRequest) (*agentv1.RemoveWatcherResponse, error) {
	return relayUnary(ctx, a, req, agentv1.AgentClient.RemoveWatcher)
}

// Attach relays a running process's output.
func (a agentRelay) Attach(req *agentv1.AttachRequest, stream agentv1.Agent_AttachServer) error {
	c, err := a.target(stream.Context())
	if err != nil {
		return err
	}
	up, err := c.Attach(stream.Context(), req)
	if err != nil {
		return err
	}
	return pump(up.Recv, stream.Send)
}

// Watch relays a directory's events.
func (a agentRelay) Watch(req *agentv1.WatchRequest, stream agentv1.Agent_WatchServer) error {
	c, err := a.target(stream.Context())
	if err != nil {
		return err
	}
	up, err := c.Watch(stream.Context(), req)
	if err != nil {
		return err
	}
	return pump(up.Recv, stream.Send)
}

// Exec relays a process's stream both ways: stdin and signals in, output and
// the exit out. The caller cancelling cancels the agent's stream, which
// kills a foreground process as it would locally.
func (a agentRelay) Exec(stream agentv1.Agent_ExecServer) error {
	c, err := a.target(stream.Context())
	if err != nil {
		return err
	}
	up, err := c.Exec(stream.Context())
	if err != nil {
		return err
	}
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				if err == io.EOF {
					_ = up.CloseSend()
				}
				return // otherwise the handler's end cancels up
			}
			if err := up.Send(m); err != nil {
				return // up.Recv reports why
			}
		}
	}()
	return pump(up.Recv, stream.Send)
}

// pump copies messages from recv to send until recv ends (nil) or either
// fails (that error, a status as the peer gave it).
func pump[T any](recv func() (*T, error), send func(*T) error) error {
	for {
		m, err := recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := send(m); err != nil {
			return err
		}
	}
}

// ReadFile relays a file's chunks.
func (a agentRelay) ReadFile(req *agentv1.ReadFileRequest, stream agentv1.Agent_ReadFileServer) error {
	c, err := a.target(stream.Context())
	if err != nil {
		return err
	}
	up, err := c.ReadFile(stream.Context(), req)
	if err != nil {
		return err
	}
	return pump(up.Recv, stream.Send)
}

// WriteFile relays an upload; the agent commits it when the caller
// half-closes, and its answer (or refusal) goes back as it is.
func (a agentRelay) WriteFile(stream agentv1.Agent_WriteFileServer) error {
	c, err := a.target(stream.Context())
	if err != nil {
		return err
	}
	up, err := c.WriteFile(stream.Context())
	if err != nil {
		return err
	}
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err // the handler's end cancels up: nothing is committed
		}
		if err := up.Send(m); err != nil {
			if err == io.EOF {
				break // the agent ended the call; CloseAndRecv says why
			}
			return err
		}
	}
	resp, err := up.CloseAndRecv()
	if err != nil {
		return err
	}
	return stream.SendAndClose(resp)
}

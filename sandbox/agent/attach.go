package agent

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

// sessionOf returns the session of the running process ref names.
func (s *server) sessionOf(ref *agentv1.ProcessRef) (*session, error) {
	t := s.procs
	t.mu.Lock()
	defer t.mu.Unlock()
	var p *process
	switch target := ref.GetTarget().(type) {
	case *agentv1.ProcessRef_Pid:
		p = t.running[int(target.Pid)]
		if p == nil {
			return nil, status.Errorf(codes.NotFound, "pid %d is not a running process of this agent", target.Pid)
		}
	case *agentv1.ProcessRef_Tag:
		if target.Tag == "" {
			return nil, invalid("process.tag is empty")
		}
		if p = t.byTag(target.Tag); p == nil {
			return nil, status.Errorf(codes.NotFound, "no running process with tag %q", target.Tag)
		}
	default:
		return nil, invalid("process (pid or tag) is required")
	}
	if p.sess == nil {
		return nil, status.Errorf(codes.FailedPrecondition, "%v runs in the background: it has no output or stdin to attach to", p)
	}
	return p.sess, nil
}

// Attach implements agentv1.AgentServer.
func (s *server) Attach(req *agentv1.AttachRequest, stream agentv1.Agent_AttachServer) error {
	ss, err := s.sessionOf(req.Process)
	if err != nil {
		return err
	}
	l, err := ss.listen(true)
	if err != nil {
		return err
	}
	defer ss.unlisten(l)
	if err := stream.Send(&agentv1.ExecResponse{Msg: &agentv1.ExecResponse_Started{
		Started: &agentv1.ExecStarted{Pid: int32(ss.p.pid), Tag: ss.p.tag},
	}}); err != nil {
		return err
	}
	ctx := stream.Context()
	for {
		select {
		case m, ok := <-l.ch:
			if !ok {
				return nil
			}
			if err := stream.Send(m); err != nil {
				return err
			}
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

// WriteStdin implements agentv1.AgentServer.
func (s *server) WriteStdin(ctx context.Context, req *agentv1.WriteStdinRequest) (*agentv1.WriteStdinResponse, error) {
	ss, err := s.sessionOf(req.Process)
	if err != nil {
		return nil, err
	}
	if len(req.Data) > maxMessage {
		return nil, invalid("data is %d bytes, more than %d", len(req.Data), maxMessage)
	}
	if err := ss.writeStdin(ctx, req.Data); err != nil {
		return nil, err
	}
	if req.Close {
		if err := ss.eof(ctx); err != nil {
			return nil, err
		}
	}
	return &agentv1.WriteStdinResponse{}, nil
}

// Resize implements agentv1.AgentServer.
func (s *server) Resize(_ context.Context, req *agentv1.ResizeRequest) (*agentv1.ResizeResponse, error) {
	ss, err := s.sessionOf(req.Process)
	if err != nil {
		return nil, err
	}
	if err := ss.resize(req.Size); err != nil {
		return nil, err
	}
	return &agentv1.ResizeResponse{}, nil
}

package agent

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/durationpb"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

// Version is reported by Health. The build may set it with
// -ldflags "-X github.com/warrenhq/warren/sandbox/agent.Version=...".
var Version = "dev"

// server implements agentv1.AgentServer.
type server struct {
	agentv1.UnimplementedAgentServer
	log     *slog.Logger
	root    *root
	reaper  *reaper
	procs   *procTable
	watches *watchTable
	pid1    bool
	started time.Time
}

var _ agentv1.AgentServer = (*server)(nil)

// Health implements agentv1.AgentServer.
func (s *server) Health(context.Context, *agentv1.HealthRequest) (*agentv1.HealthResponse, error) {
	return &agentv1.HealthResponse{
		Ok:      true,
		Uptime:  durationpb.New(time.Since(s.started)),
		Version: Version,
		Pid:     int32(os.Getpid()),
	}, nil
}

// ListProcesses implements agentv1.AgentServer.
func (s *server) ListProcesses(context.Context, *agentv1.ListProcessesRequest) (*agentv1.ListProcessesResponse, error) {
	return &agentv1.ListProcessesResponse{Processes: s.listProcesses()}, nil
}

// Signal implements agentv1.AgentServer.
func (s *server) Signal(_ context.Context, req *agentv1.SignalRequest) (*agentv1.SignalResponse, error) {
	sig, err := validSignal(req.Signal)
	if err != nil {
		return nil, err
	}
	pid, err := s.signalTarget(req)
	if err != nil {
		return nil, err
	}
	target := pid
	if req.Group {
		target = -pid
	}
	if err := unix.Kill(target, sig); err != nil {
		return nil, statusErr("signal", "pid "+strconv.Itoa(pid), err)
	}
	return &agentv1.SignalResponse{Pid: int32(pid)}, nil
}

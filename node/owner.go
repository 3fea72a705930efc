package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/warrenhq/warren/id"
	nodev1 "github.com/warrenhq/warren/proto/node/v1"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandbox/agent"
	"github.com/warrenhq/warren/sandboxes"
)

// Metadata keys naming the sandbox (and the caller's team) on relayed agent
// calls; see node.proto.
const (
	mdSandbox = "warren-sandbox-id"
	mdTeam    = "warren-team-id"
	// mdRelayed is the trailer the owner's relay sets on every answer.
	mdRelayed = "warren-relayed"
)

// ownerUnreachable is the answer when the node running a sandbox does not
// answer.
var ownerUnreachable = &sandbox.UnavailableError{Message: "the node running this sandbox is not reachable right now; retry shortly"}

// owner is another node running sandboxes, reached over node-to-node gRPC:
// the client side of KillSandbox, PauseSandbox, ResumeSandbox,
// SnapshotSandbox, DialPort and the agent relay.
type owner struct {
	id   id.NodeID
	conn *grpc.ClientConn
	rpc  nodev1.NodeClient
}

var _ sandboxes.Owner = owner{}

// Owner returns the node running a sandbox, for calls that must run there.
func (cn *clusterNode) Owner(node id.NodeID) (sandboxes.Owner, error) {
	m, err := cn.member(node)
	if err != nil {
		return nil, ownerUnreachable
	}
	conn, err := cn.rpcs.Conn(m.GRPCAddr)
	if err != nil {
		return nil, err
	}
	return owner{id: node, conn: conn, rpc: nodev1.NewNodeClient(conn)}, nil
}

func ref(team id.TeamID, sb id.SandboxID) *nodev1.SandboxRef {
	return &nodev1.SandboxRef{SandboxId: sb.String(), TeamId: team.String()}
}

func (o owner) Kill(ctx context.Context, team id.TeamID, sb id.SandboxID) error {
	_, err := o.rpc.KillSandbox(ctx, ref(team, sb))
	return fromOwner(err, sb)
}

func (o owner) Pause(ctx context.Context, team id.TeamID, sb id.SandboxID) error {
	_, err := o.rpc.PauseSandbox(ctx, ref(team, sb))
	return fromOwner(err, sb)
}

func (o owner) Resume(ctx context.Context, team id.TeamID, sb id.SandboxID) error {
	_, err := o.rpc.ResumeSandbox(ctx, ref(team, sb))
	return fromOwner(err, sb)
}

func (o owner) Snapshot(ctx context.Context, team id.TeamID, sb id.SandboxID, name string) (id.TemplateID, error) {
	resp, err := o.rpc.SnapshotSandbox(ctx, &nodev1.SnapshotSandboxRequest{Sandbox: ref(team, sb), Name: name})
	if err != nil {
		return id.TemplateID{}, fromOwner(err, sb)
	}
	tid, err := id.ParseTemplateID(resp.TemplateId)
	if err != nil {
		return id.TemplateID{}, fmt.Errorf("node %s answered a bad template ID: %w", o.id, err)
	}
	return tid, nil
}

// Agent returns a client whose calls the owner relays to the sandbox's agent.
// Errors of those calls are the agent's own statuses, passed through.
func (o owner) Agent(_ context.Context, team id.TeamID, sb id.SandboxID) (*agent.Client, error) {
	md := metadata.Pairs(mdSandbox, sb.String(), mdTeam, team.String())
	return agent.NewRelayClient(relayConn{cc: o.conn, md: md}), nil
}

// relayConn is a connection to the owner whose every call names the sandbox.
type relayConn struct {
	cc *grpc.ClientConn
	md metadata.MD
}

var relayOpts = []grpc.CallOption{grpc.MaxCallRecvMsgSize(agent.MaxMessage), grpc.MaxCallSendMsgSize(agent.MaxMessage)}

func (c relayConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	var tr metadata.MD
	opts = append(append(relayOpts[:len(relayOpts):len(relayOpts)], opts...), grpc.Trailer(&tr))
	return unreached(c.cc.Invoke(metadata.NewOutgoingContext(ctx, c.md), method, args, reply, opts...), tr)
}

func (c relayConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := c.cc.NewStream(metadata.NewOutgoingContext(ctx, c.md), desc, method, append(relayOpts[:len(relayOpts):len(relayOpts)], opts...)...)
	if err != nil {
		return nil, unreached(err, nil)
	}
	return relayStream{cs}, nil
}

// relayStream reports a relayed stream that never reached the owner as such.
type relayStream struct{ grpc.ClientStream }

func (s relayStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil && err != io.EOF {
		return unreached(err, s.Trailer())
	}
	return err
}

// unreached tells an owner that did not answer (Unavailable without the
// relay's trailer) from the sandbox's agent not answering (Unavailable
// passed on by the owner, whose relay always sets the trailer).
func unreached(err error, trailer metadata.MD) error {
	if err != nil && status.Code(err) == codes.Unavailable && len(trailer.Get(mdRelayed)) == 0 {
		return ownerUnreachable
	}
	return err
}

// DialPort opens a DialPort stream to the owner and returns it as a
// connection once the owner has connected to the port.
func (o owner) DialPort(ctx context.Context, team id.TeamID, sb id.SandboxID, port int) (net.Conn, error) {
	// The stream lives as long as the connection, not as the dialing call.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stream, err := o.rpc.DialPort(sctx)
	if err == nil {
		err = stream.Send(&nodev1.PortFrame{Msg: &nodev1.PortFrame_Open{Open: &nodev1.PortOpen{Sandbox: ref(team, sb), Port: int32(port)}}})
	}
	var first *nodev1.PortFrame
	if err == nil {
		// The owner answers an empty data frame once connected, or an error;
		// the dialing call's end cancels only this wait.
		stop := context.AfterFunc(ctx, cancel)
		first, err = stream.Recv()
		stop()
	}
	if err != nil {
		cancel()
		if st, ok := status.FromError(err); ok && st.Code() == codes.Unavailable && st.Message() == portRefused {
			return nil, &sandboxes.PortError{Port: port, Err: errors.New(portRefused)}
		}
		if err == io.EOF {
			err = errors.New("the owner closed the port stream at once")
		}
		return nil, fromOwner(err, sb)
	}
	c := &portConn{stream: stream, cancel: cancel, local: portAddr("warren-node"), remote: portAddr(fmt.Sprintf("%s:%d", sb, port))}
	c.pending = first.GetData()
	return c, nil
}

// portRefused is the owner's message when nothing accepted the connection.
const portRefused = "nothing accepted the connection on that port in the sandbox"

// portConn is a DialPort stream as a net.Conn. Deadlines are not supported
// (the HTTP proxy that uses it sets none); Close ends the stream.
type portConn struct {
	stream  nodev1.Node_DialPortClient
	cancel  context.CancelFunc
	local   net.Addr
	remote  net.Addr
	rmu     sync.Mutex
	pending []byte
	wmu     sync.Mutex
	closed  bool
}

func (c *portConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.pending) == 0 {
		m, err := c.stream.Recv()
		if err == io.EOF {
			return 0, io.EOF
		}
		if err != nil {
			if status.Code(err) == codes.Canceled {
				return 0, net.ErrClosed
			}
			return 0, err
		}
		c.pending = m.GetData()
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *portConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	written := 0
	for len(p) > 0 {
		n := min(len(p), portChunk)
		if err := c.stream.Send(&nodev1.PortFrame{Msg: &nodev1.PortFrame_Data{Data: p[:n]}}); err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// CloseWrite half-closes: the owner closes the write side of its
// connection to the sandbox.
func (c *portConn) CloseWrite() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.stream.CloseSend()
}

func (c *portConn) Close() error {
	c.wmu.Lock()
	c.closed = true
	c.wmu.Unlock()
	c.cancel()
	return nil
}

func (c *portConn) LocalAddr() net.Addr              { return c.local }
func (c *portConn) RemoteAddr() net.Addr             { return c.remote }
func (c *portConn) SetDeadline(time.Time) error      { return nil }
func (c *portConn) SetReadDeadline(time.Time) error  { return nil }
func (c *portConn) SetWriteDeadline(time.Time) error { return nil }

type portAddr string

func (a portAddr) Network() string { return "warren-port" }
func (a portAddr) String() string  { return string(a) }

// portChunk bounds one data frame.
const portChunk = 64 << 10

// fromOwner turns an owner's gRPC status back into the sandbox package's
// errors (grpcError is the other direction).
func fromOwner(err error, sb id.SandboxID) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("sandbox %s: %w", sb, sandbox.ErrNotFound)
	case codes.FailedPrecondition:
		return fmt.Errorf("sandbox %s: %w: %s", sb, sandbox.ErrConflict, st.Message())
	case codes.InvalidArgument:
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok && len(br.FieldViolations) > 0 {
				return &sandbox.FieldError{Field: br.FieldViolations[0].Field, Message: br.FieldViolations[0].Description}
			}
		}
		return fmt.Errorf("sandbox %s: the node running it refused the call: %s", sb, st.Message())
	case codes.ResourceExhausted:
		return &sandbox.CapacityError{Message: st.Message()}
	case codes.Unavailable, codes.DeadlineExceeded:
		return ownerUnreachable
	}
	return fmt.Errorf("sandbox %s: the node running it failed: %w", sb, err)
}

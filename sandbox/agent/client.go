package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

// ChunkSize is the data size of one upload message.
const ChunkSize = 128 << 10

// Client talks to one agent, over its unix socket (Dial) or through a relay
// (NewRelayClient). It is safe for concurrent use. Errors from the agent
// carry gRPC status codes (status.Code works on the wrapped errors the
// methods return).
type Client struct {
	socket string
	conn   *grpc.ClientConn
	rpc    agentv1.AgentClient
}

// Dial returns a client for the agent at socketPath. It does not wait for
// the agent: the connection is made in the background and re-tried with a
// short backoff (5 ms growing to 100 ms), so call WaitHealthy after starting
// a sandbox.
func Dial(ctx context.Context, socketPath string) (*Client, error) {
	return dial(ctx, socketPath, nil)
}

// Peer is the process every connection to an agent must lead to, as the
// kernel reports it (SO_PEERCRED, in the caller's namespaces): the agent's
// host pid and host uid.
type Peer struct {
	Pid int
	UID int
}

// PeerError is a connection that led to another process than the Peer
// expected: it is closed unused.
type PeerError struct {
	Socket    string
	Want, Got Peer
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("agent %s: the socket's peer is pid %d uid %d, not the agent (pid %d uid %d)",
		e.Socket, e.Got.Pid, e.Got.UID, e.Want.Pid, e.Want.UID)
}

// DialPeer is Dial that checks every connection, the first and each redial,
// before any call uses it: its SO_PEERCRED must be want. A connection to any
// other process is closed and refused, and refused is called with the
// *PeerError (or the error reading the credentials), so the owner can treat
// the agent as lost. refused may be nil; it must not block.
func DialPeer(ctx context.Context, socketPath string, want Peer, refused func(error)) (*Client, error) {
	if want.Pid <= 0 || want.UID < 0 {
		return nil, fmt.Errorf("agent dial %s: invalid peer pid %d uid %d", socketPath, want.Pid, want.UID)
	}
	return dial(ctx, socketPath, func(c net.Conn) error {
		got, err := PeerOf(c)
		if err == nil && got != want {
			err = &PeerError{Socket: socketPath, Want: want, Got: got}
		}
		if err != nil && refused != nil {
			refused(err)
		}
		return err
	})
}

// PeerOf returns the pid and uid of the process at the other end of a unix
// socket connection (for a listening socket: the process that called
// listen).
func PeerOf(c net.Conn) (Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{}, fmt.Errorf("agent: peer of a %T: not a unix socket", c)
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("agent: peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := rc.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, fmt.Errorf("agent: peer credentials: %w", err)
	}
	if credErr != nil {
		return Peer{}, fmt.Errorf("agent: peer credentials: %w", credErr)
	}
	return Peer{Pid: int(cred.Pid), UID: int(cred.Uid)}, nil
}

func dial(ctx context.Context, socketPath string, verify func(net.Conn) error) (*Client, error) {
	if socketPath == "" {
		return nil, errors.New("agent dial: socketPath is empty")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("agent dial %s: %w", socketPath, err)
	}
	dial := func(ctx context.Context, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", socketPath)
		if err != nil || verify == nil {
			return c, err
		}
		if err := verify(c); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	conn, err := grpc.NewClient("passthrough:///agent",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(dial),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  5 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   100 * time.Millisecond,
			},
			MinConnectTimeout: time.Second,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)),
	)
	if err != nil {
		return nil, fmt.Errorf("agent dial %s: %w", socketPath, err)
	}
	conn.Connect()
	return &Client{socket: socketPath, conn: conn, rpc: agentv1.NewAgentClient(conn)}, nil
}

// NewRelayClient returns a Client whose calls travel over cc to a server that
// relays them to an agent (the node running the sandbox; cc adds whatever
// names the sandbox). Close leaves cc open: its owner closes it.
func NewRelayClient(cc grpc.ClientConnInterface) *Client {
	return &Client{socket: "relay", rpc: agentv1.NewAgentClient(cc)}
}

// MaxMessage is the gRPC message size limit agents and relays accept.
const MaxMessage = maxMessage

// Raw returns the generated client, for callers that relay streams as they
// are (the node's own Exec RPC).
func (c *Client) Raw() agentv1.AgentClient { return c.rpc }

// Close closes the connection.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// Health is the agent's answer to a health check.
type Health struct {
	OK      bool
	Uptime  time.Duration
	Version string
	Pid     int
}

// Health asks the agent once.
func (c *Client) Health(ctx context.Context) (Health, error) {
	r, err := c.rpc.Health(ctx, &agentv1.HealthRequest{})
	if err != nil {
		return Health{}, fmt.Errorf("agent %s: health: %w", c.socket, err)
	}
	return Health{OK: r.Ok, Uptime: r.Uptime.AsDuration(), Version: r.Version, Pid: int(r.Pid)}, nil
}

// Poll intervals of WaitHealthy: the first try is immediate, then the wait
// doubles from healthPollMin up to healthPollMax.
const (
	healthPollMin = time.Millisecond
	healthPollMax = 25 * time.Millisecond
)

// WaitHealthy polls Health until the agent answers OK or ctx ends (give ctx
// a deadline). Before each retry it resets the connection backoff, so a
// socket that appears is used at once.
func (c *Client) WaitHealthy(ctx context.Context) error {
	wait := healthPollMin
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		h, err := c.Health(ctx)
		if err == nil && h.OK {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("agent %s reports not ok", c.socket)
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("agent %s not healthy: %w (last error: %v)", c.socket, ctx.Err(), err)
		case <-timer.C:
		}
		wait = min(2*wait, healthPollMax)
		c.conn.ResetConnectBackoff()
	}
}

package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

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
	if socketPath == "" {
		return nil, errors.New("agent dial: socketPath is empty")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("agent dial %s: %w", socketPath, err)
	}
	dial := func(ctx context.Context, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socketPath)
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

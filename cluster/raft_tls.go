package cluster

import (
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/warrenhq/warren/cluster/rpc"
)

// raftHandshakeTimeout bounds the TLS handshake of an incoming raft connection: a
// peer that connects and stays silent is closed after it.
const raftHandshakeTimeout = 10 * time.Second

// streamLayer is raft's stream layer: TCP with mutual TLS from the cluster CA
// (rpc.Identity, the same certificates node-to-node gRPC uses). The server
// requires and verifies a client certificate chained to the CA, the client
// verifies the server's; a connection that fails the handshake is closed before
// raft decodes a byte of it. Outgoing connections leave from the bind IP when it
// is specific (see boundTransport).
type streamLayer struct {
	net.Listener
	advertise net.Addr
	local     net.IP
	server    *tls.Config
	client    *tls.Config
}

func newStreamLayer(bind, advertise string, clusterKey []byte, nodeID string) (*streamLayer, error) {
	id, err := rpc.NewIdentity(clusterKey, nodeID, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: raft TLS identity: %v", ErrInvalid, err)
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("raft listen on %s: %w", bind, err)
	}
	s := &streamLayer{Listener: ln, advertise: ln.Addr(), server: id.ServerTLS(), client: id.ClientTLS()}
	if advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", advertise)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("%w: --advertise (raft) %q: %v", ErrInvalid, advertise, err)
		}
		s.advertise = a
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); ok && !ta.IP.IsUnspecified() {
		s.local = ta.IP
	}
	return s, nil
}

// Accept returns the next connection wrapped in server-side TLS. The handshake
// runs on the connection's first Read or Write (in raft's per-connection
// goroutine, so a slow peer never blocks the accept loop), bounded by
// raftHandshakeTimeout.
func (s *streamLayer) Accept() (net.Conn, error) {
	c, err := s.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &handshakeConn{Conn: tls.Server(c, s.server)}, nil
}

func (s *streamLayer) Addr() net.Addr { return s.advertise }

// Dial connects to a raft peer and completes the TLS handshake within timeout.
func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	if s.local != nil {
		d.LocalAddr = &net.TCPAddr{IP: s.local}
	}
	c, err := tls.DialWithDialer(d, "tcp", string(addr), s.client)
	if err != nil {
		return nil, fmt.Errorf("raft dial %s: %w", addr, err)
	}
	return c, nil
}

// handshakeConn completes the server handshake, with a deadline, before the
// first byte is read or written; a failed handshake fails every later call.
type handshakeConn struct {
	*tls.Conn
	once sync.Once
	err  error
}

func (c *handshakeConn) handshake() error {
	c.once.Do(func() {
		if err := c.Conn.SetDeadline(time.Now().Add(raftHandshakeTimeout)); err != nil {
			c.err = err
			return
		}
		if err := c.Conn.Handshake(); err != nil {
			c.err = fmt.Errorf("raft TLS handshake from %s: %w", c.Conn.RemoteAddr(), err)
			c.Conn.Close()
			return
		}
		c.err = c.Conn.SetDeadline(time.Time{})
	})
	return c.err
}

func (c *handshakeConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *handshakeConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

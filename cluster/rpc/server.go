package rpc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	nodev1 "github.com/warrenhq/warren/proto/node/v1"
)

// ServerConfig configures a Server.
type ServerConfig struct {
	ClusterKey []byte   // the 32-byte cluster key (same as gossip)
	NodeID     string   // this node's ID, "node-<uuid>"; the CN of its certificate
	Addrs      []string // advertised IPs / host names (host:port accepted), put in the certificate's SANs
	// Handler serves nodev1.Node. Implementations embed
	// nodev1.UnimplementedNodeServer.
	Handler nodev1.NodeServer
	Logger  *slog.Logger
	// StopTimeout bounds the graceful part of Stop; then open calls are cut.
	// Zero: DefaultStopTimeout.
	StopTimeout time.Duration
}

// DefaultStopTimeout is how long Stop waits for running calls by default.
const DefaultStopTimeout = 5 * time.Second

// Server serves nodev1.Node (and any services registered before Serve) over
// mutual TLS.
type Server struct {
	grpc    *grpc.Server
	log     *slog.Logger
	timeout time.Duration

	mu     sync.Mutex
	addr   net.Addr
	served bool
}

var _ grpc.ServiceRegistrar = (*Server)(nil)

// NewServer builds a server and registers cfg.Handler. Nothing listens until Serve.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("rpc server: Handler: must not be nil")
	}
	if cfg.NodeID == "" {
		return nil, errors.New("rpc server: NodeID: must not be empty")
	}
	if cfg.StopTimeout < 0 {
		return nil, fmt.Errorf("rpc server: StopTimeout: must not be negative, got %s", cfg.StopTimeout)
	}
	id, err := NewIdentity(cfg.ClusterKey, cfg.NodeID, cfg.Addrs)
	if err != nil {
		return nil, fmt.Errorf("rpc server %s: %w", cfg.NodeID, err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := cfg.StopTimeout
	if timeout == 0 {
		timeout = DefaultStopTimeout
	}
	g := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(id.ServerTLS())),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime: 10 * time.Second, PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.ConnectionTimeout(10*time.Second), // bounds the TLS handshake
		grpc.WriteBufferSize(bufSize), grpc.ReadBufferSize(bufSize), grpc.SharedWriteBuffer(true),
	)
	nodev1.RegisterNodeServer(g, cfg.Handler)
	return &Server{grpc: g, log: log.With("node", cfg.NodeID), timeout: timeout}, nil
}

// RegisterService registers another service; it must be called before Serve.
// It makes Server a grpc.ServiceRegistrar, so generated RegisterXServer
// functions accept it.
func (s *Server) RegisterService(desc *grpc.ServiceDesc, impl any) {
	s.mu.Lock()
	served := s.served
	s.mu.Unlock()
	if served {
		panic(fmt.Sprintf("rpc server: RegisterService(%s) after Serve", desc.ServiceName))
	}
	s.grpc.RegisterService(desc, impl)
}

// Serve accepts connections on l until Stop; it returns nil after Stop.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.served {
		s.mu.Unlock()
		return errors.New("rpc server: Serve called twice")
	}
	s.served, s.addr = true, l.Addr()
	s.mu.Unlock()
	s.log.Info("gRPC serving", "addr", l.Addr().String())
	if err := s.grpc.Serve(l); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("rpc server on %s: %w", l.Addr(), err)
	}
	return nil
}

// Addr is the address Serve listens on, nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop stops accepting connections, waits up to StopTimeout for running calls
// (streams included), then closes whatever is left. Safe to call more than once.
func (s *Server) Stop() {
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.log.Warn("gRPC graceful stop timed out, closing open calls", "timeout", s.timeout)
		s.grpc.Stop()
		<-done
	}
}

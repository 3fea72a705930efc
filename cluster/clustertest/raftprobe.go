package clustertest

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// RaftDial connects to a raft server's address, the way an attacker chooses.
type RaftDial func(addr string, timeout time.Duration) (net.Conn, error)

// TLSDial dials over TLS with cfg (with or without a client certificate).
func TLSDial(cfg *tls.Config) RaftDial {
	return func(addr string, timeout time.Duration) (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", addr, cfg)
	}
}

// probeStream is a raft stream layer whose dial the caller picks.
type probeStream struct {
	net.Listener
	dial RaftDial
}

func (p probeStream) Dial(a raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return p.dial(string(a), timeout)
}

// RaftProbe returns a raft NetworkTransport that speaks raft's own wire format
// (one type byte, then msgpack) over dial, for tests that send raft RPCs to a
// server as an outsider would. It is closed when t ends.
func RaftProbe(t testing.TB, dial RaftDial) *raft.NetworkTransport {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: probeStream{Listener: ln, dial: dial}, MaxPool: 1, Timeout: 3 * time.Second,
		Logger: hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
	})
	t.Cleanup(func() { tr.Close() })
	return tr
}

// AppendEntries sends one AppendEntries with term from an unknown member: with
// a term above the cluster's it makes a leader step down and adopt it.
func AppendEntries(tr *raft.NetworkTransport, addr string, term uint64) (*raft.AppendEntriesResponse, error) {
	req := &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("node-intruder"), Addr: []byte("127.0.0.1:1")},
		Term:      term,
	}
	var resp raft.AppendEntriesResponse
	err := tr.AppendEntries("node-x", raft.ServerAddress(addr), req, &resp)
	return &resp, err
}

package rpc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// Identity is a node's leaf certificate from the cluster CA, re-issued when half
// its life is gone. It is the one source of TLS configuration for every
// node-to-node transport: this package's gRPC and the cluster's raft stream layer.
type Identity struct {
	ca     *CA
	nodeID string
	addrs  []string

	mu   sync.Mutex
	cert *tls.Certificate
}

// NewIdentity derives the cluster CA from clusterKey and issues nodeID's leaf
// (addrs become its IP/DNS SANs; peers do not check them).
func NewIdentity(clusterKey []byte, nodeID string, addrs []string) (*Identity, error) {
	ca, err := DeriveCA(clusterKey)
	if err != nil {
		return nil, err
	}
	id := &Identity{ca: ca, nodeID: nodeID, addrs: addrs}
	if _, err := id.current(); err != nil {
		return nil, err
	}
	return id, nil
}

func (id *Identity) current() (*tls.Certificate, error) {
	id.mu.Lock()
	defer id.mu.Unlock()
	now := time.Now()
	if id.cert != nil {
		l := id.cert.Leaf
		if now.Before(l.NotBefore.Add(leafBackdate + leafLifetime/2)) {
			return id.cert, nil
		}
	}
	c, err := id.ca.IssueLeaf(id.nodeID, id.addrs, now)
	if err != nil {
		return nil, err
	}
	id.cert = c
	return c, nil
}

// ServerTLS requires a client certificate chained to the CA.
func (id *Identity) ServerTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return id.current()
		},
		ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs:  id.ca.pool,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := nodeIDFromChains(cs.VerifiedChains)
			return err
		},
	}
}

// ClientTLS verifies the server's chain against the CA, not its host name:
// peers are dialled by address and any holder of the cluster key is a peer.
func (id *Identity) ClientTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return id.current()
		},
		InsecureSkipVerify: true, // replaced by VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			return id.ca.verifyPeer(cs.PeerCertificates, x509.ExtKeyUsageServerAuth)
		},
	}
}

// verifyPeer checks that certs[0] chains to the CA and names a node.
func (ca *CA) verifyPeer(certs []*x509.Certificate, usage x509.ExtKeyUsage) error {
	if len(certs) == 0 {
		return errors.New("peer presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{
		Roots: ca.pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage},
	})
	if err != nil {
		return fmt.Errorf("peer %q: certificate not from this cluster: %w", certs[0].Subject.CommonName, err)
	}
	_, err = nodeIDFromChains(chains)
	return err
}

func nodeIDFromChains(chains [][]*x509.Certificate) (string, error) {
	if len(chains) == 0 || len(chains[0]) == 0 {
		return "", errors.New("peer certificate not verified")
	}
	cn := chains[0][0].Subject.CommonName
	if cn == "" {
		return "", errors.New("peer certificate has no node ID (empty CN)")
	}
	return cn, nil
}

// PeerNodeID returns the node ID of the authenticated caller of a handler (the
// CN of its verified certificate); ok is false outside an mTLS call.
func PeerNodeID(ctx context.Context) (nodeID string, ok bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return "", false
	}
	id, err := nodeIDFromChains(info.State.VerifiedChains)
	return id, err == nil
}

package rpc

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"

	"golang.org/x/crypto/hkdf"
)

// KeySize is the length of the cluster key in bytes.
const KeySize = 32

// caInfo is the HKDF info string; changing it changes every cluster's CA.
const caInfo = "warren cluster CA v1"

// CA is the cluster certificate authority derived from the cluster key.
type CA struct {
	Cert *x509.Certificate
	DER  []byte
	key  ed25519.PrivateKey
	pool *x509.CertPool
}

// DeriveCA derives the cluster CA from the 32-byte cluster key. The same key
// gives the same key pair and a byte-identical certificate on every node.
func DeriveCA(clusterKey []byte) (*CA, error) {
	if len(clusterKey) != KeySize {
		return nil, fmt.Errorf("ClusterKey: must be %d bytes, got %d", KeySize, len(clusterKey))
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(hkdf.New(sha256.New, clusterKey, nil, []byte(caInfo)), seed); err != nil {
		return nil, fmt.Errorf("derive CA key: %w", err)
	}
	key := ed25519.NewKeyFromSeed(seed)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "warren cluster CA"},
		NotBefore:             time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	// Ed25519 signing reads no randomness; a failing reader proves it.
	der, err := x509.CreateCertificate(noRand{}, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Cert: cert, DER: der, key: key, pool: pool}, nil
}

type noRand struct{}

func (noRand) Read([]byte) (int, error) {
	return 0, errors.New("CA derivation must not use randomness")
}

// Leaf lifetime: re-issued once half of it has passed.
const (
	leafLifetime = 30 * 24 * time.Hour
	leafBackdate = time.Hour
)

// IssueLeaf makes a fresh ed25519 key and a certificate for nodeID signed by
// the CA. Entries of addrs may be IPs, host names or host:port.
func (ca *CA) IssueLeaf(nodeID string, addrs []string, now time.Time) (*tls.Certificate, error) {
	if nodeID == "" {
		return nil, errors.New("NodeID: must not be empty")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate leaf key for %s: %w", nodeID, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("leaf serial for %s: %w", nodeID, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nodeID},
		NotBefore:    now.Add(-leafBackdate),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{nodeID},
	}
	for _, a := range addrs {
		host := a
		if h, _, err := net.SplitHostPort(a); err == nil {
			host = h
		}
		if host == "" {
			continue
		}
		if ip := net.ParseIP(host); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, host)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign leaf for %s: %w", nodeID, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse leaf for %s: %w", nodeID, err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
}

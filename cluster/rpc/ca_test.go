package rpc

import (
	"bytes"
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

func TestDeriveCADeterministic(t *testing.T) {
	key := newKey(t)
	a, err := DeriveCA(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := DeriveCA(append([]byte(nil), key...))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.DER, b.DER) {
		t.Fatal("two derivations from one key gave different CA certificates")
	}
	if !a.Cert.IsCA || a.Cert.Subject.CommonName != "warren cluster CA" || a.Cert.SerialNumber.Int64() != 1 {
		t.Fatalf("unexpected CA certificate: IsCA=%v subject=%q serial=%v", a.Cert.IsCA, a.Cert.Subject, a.Cert.SerialNumber)
	}
	if err := a.Cert.CheckSignatureFrom(a.Cert); err != nil {
		t.Fatalf("CA is not self-signed: %v", err)
	}
	other, err := DeriveCA(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.DER, other.DER) {
		t.Fatal("different keys gave the same CA certificate")
	}
}

func TestDeriveCARejectsBadKey(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := DeriveCA(make([]byte, n)); err == nil || !strings.Contains(err.Error(), "ClusterKey") {
			t.Errorf("key of %d bytes: got %v, want an error naming ClusterKey", n, err)
		}
	}
}

func TestIssueLeaf(t *testing.T) {
	ca, err := DeriveCA(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	const nodeID = "node-0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	c, err := ca.IssueLeaf(nodeID, []string{"10.0.0.5:7001", "warren-1.example", "::1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	l := c.Leaf
	if l.Subject.CommonName != nodeID {
		t.Errorf("CN = %q, want %q", l.Subject.CommonName, nodeID)
	}
	if got := strings.Join(l.DNSNames, ","); got != nodeID+",warren-1.example" {
		t.Errorf("DNS SANs = %s", got)
	}
	if len(l.IPAddresses) != 2 || l.IPAddresses[0].String() != "10.0.0.5" || l.IPAddresses[1].String() != "::1" {
		t.Errorf("IP SANs = %v", l.IPAddresses)
	}
	for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if err := ca.verifyPeer([]*x509.Certificate{l}, u); err != nil {
			t.Errorf("leaf does not verify for usage %v: %v", u, err)
		}
	}
	// Verification by host name also works with the node ID as server name.
	if _, err := l.Verify(x509.VerifyOptions{Roots: ca.pool, DNSName: nodeID}); err != nil {
		t.Errorf("verify with DNSName=node ID: %v", err)
	}
	other, err := DeriveCA(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.verifyPeer([]*x509.Certificate{l}, x509.ExtKeyUsageServerAuth); err == nil {
		t.Error("a leaf from another cluster key verified")
	}
	if _, err := ca.IssueLeaf("", nil, time.Now()); err == nil || !strings.Contains(err.Error(), "NodeID") {
		t.Errorf("empty node ID: got %v, want an error naming NodeID", err)
	}
}

func TestIdentityReissuesAfterHalfLife(t *testing.T) {
	id, err := NewIdentity(newKey(t), "node-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	first, err := id.current()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := id.current()
	if again != first {
		t.Fatal("leaf re-issued while young")
	}
	// Age the leaf past half its lifetime.
	old, err := id.ca.IssueLeaf("node-a", nil, time.Now().Add(-leafLifetime/2-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	id.mu.Lock()
	id.cert = old
	id.mu.Unlock()
	fresh, err := id.current()
	if err != nil {
		t.Fatal(err)
	}
	if fresh == old || !fresh.Leaf.NotAfter.After(old.Leaf.NotAfter) {
		t.Fatal("leaf past half its lifetime was not re-issued")
	}
}

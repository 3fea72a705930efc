package rpc

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	nodev1 "github.com/warrenhq/warren/proto/node/v1"
)

func benchClient(b *testing.B, f *fakeNode) nodev1.NodeClient {
	key := newKey(b)
	_, addr := startServer(b, key, nodeB, f)
	cl, err := newPool(b, key, nodeA).Node(addr)
	if err != nil {
		b.Fatal(err)
	}
	return cl
}

// BenchmarkPullImageDense pulls a 64 MiB file of random data (no holes).
func BenchmarkPullImageDense(b *testing.B) {
	const size = 64 << 20
	src := filepath.Join(b.TempDir(), "src.img")
	buf := make([]byte, size)
	rand.Read(buf)
	if err := os.WriteFile(src, buf, 0o644); err != nil {
		b.Fatal(err)
	}
	benchPull(b, src, size)
}

// BenchmarkPullImageSparse pulls a 512 MiB sparse file with ~30 MiB of data.
func BenchmarkPullImageSparse(b *testing.B) {
	const size = 512 << 20
	src := filepath.Join(b.TempDir(), "src.img")
	makeSparseImage(b, src, size, 7)
	benchPull(b, src, size)
}

func benchPull(b *testing.B, src string, size int64) {
	f := newFakeNode(nodeB)
	f.images[imageName] = src
	cl := benchClient(b, f)
	dst := filepath.Join(b.TempDir(), "dst.img")
	b.SetBytes(size)
	for b.Loop() {
		if _, _, err := ReceiveImage(context.Background(), cl, imageName, dst); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPing measures a unary call on an established mTLS connection.
func BenchmarkPing(b *testing.B) {
	cl := benchClient(b, newFakeNode(nodeB))
	for b.Loop() {
		if _, err := cl.Ping(context.Background(), &nodev1.PingRequest{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConnect measures a fresh connection (TCP + TLS 1.3 mutual
// handshake) plus one call.
func BenchmarkConnect(b *testing.B) {
	key := newKey(b)
	_, addr := startServer(b, key, nodeB, newFakeNode(nodeB))
	p := newPool(b, key, nodeA)
	for b.Loop() {
		cl, err := p.Node(addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := cl.Ping(context.Background(), &nodev1.PingRequest{}); err != nil {
			b.Fatal(err)
		}
		p.Forget(addr)
	}
}

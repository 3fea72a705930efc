package rpc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	nodev1 "github.com/warrenhq/warren/proto/node/v1"
)

const imageName = "tpl-0190a1b2-0000-7000-8000-0000000000ff"

// makeSparseImage writes a sparse file of size bytes with random data regions
// (some unaligned, one ending at EOF) and a region of written zeros.
func makeSparseImage(t testing.TB, path string, size int64, seed uint64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, seed))
	data := rand.NewChaCha8([32]byte{byte(seed)})
	write := func(off int64, b []byte) {
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	for range 25 {
		n := 1 + r.Int64N(min(3<<20, size/8))
		b := make([]byte, n)
		data.Read(b)
		write(r.Int64N(size-n), b)
	}
	write(size-5000, bytes.Repeat([]byte{0xab}, 5000))    // data up to EOF
	write(size/2+12345, make([]byte, min(2<<20, size/4))) // allocated zeros
	write(1, []byte("not block aligned, near the start")) // first block
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// imageFixture serves a fake node holding one sparse image and returns a
// client to it and an empty destination directory.
func imageFixture(t *testing.T, size int64) (f *fakeNode, cl nodev1.NodeClient, src, dstDir string) {
	t.Helper()
	key := newKey(t)
	src = filepath.Join(t.TempDir(), "src.img")
	makeSparseImage(t, src, size, 42)
	f = newFakeNode(nodeB)
	f.images[imageName] = src
	_, addr := startServer(t, key, nodeB, f)
	cl, err := newPool(t, key, nodeA).Node(addr)
	if err != nil {
		t.Fatal(err)
	}
	return f, cl, src, t.TempDir()
}

func TestPullImageRoundTrip(t *testing.T) {
	const size = 50 << 20
	f, cl, src, dir := imageFixture(t, size)
	var sent atomic.Int64 // data bytes on the wire
	f.setWrap(hook(func(_ int, c *nodev1.ImageChunk) (bool, error) {
		sent.Add(int64(len(c.GetData().GetData())))
		return true, nil
	}))
	dst := filepath.Join(dir, imageName+".img")
	n, sum, err := ReceiveImage(callCtx(t), cl, imageName, dst)
	if err != nil {
		t.Fatal(err)
	}
	want := fileSum(t, src)
	if n != size || sum != want {
		t.Fatalf("ReceiveImage = %d, %s; want %d, %s", n, sum, size, want)
	}
	a, _ := os.ReadFile(src)
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("pulled image differs from the source")
	}
	if sa, sb := allocated(t, src), allocated(t, dst); sb > sa {
		t.Errorf("pulled image not sparse: %d bytes allocated, source %d, size %d", sb, sa, size)
	} else {
		t.Logf("allocated: source %d MiB, copy %d MiB of %d MiB", sa>>20, sb>>20, size>>20)
	}
	if sa := allocated(t, src); sent.Load() > sa {
		t.Errorf("sent %d data bytes, more than the %d allocated in the source: holes were sent", sent.Load(), sa)
	}
	wantOnly(t, dir, filepath.Base(dst))
}

// wantOnly fails unless dir holds exactly the named entries.
func wantOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Name())
	}
	if len(got) != len(names) || (len(names) > 0 && got[0] != names[0]) {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
}

// hookStream lets a test alter the chunks a server sends.
type hookStream struct {
	nodev1.Node_PullImageServer
	n    int
	hook func(n int, c *nodev1.ImageChunk) (send bool, err error)
}

func (s *hookStream) Send(c *nodev1.ImageChunk) error {
	s.n++
	send, err := s.hook(s.n, c)
	if err != nil || !send {
		return err
	}
	return s.Node_PullImageServer.Send(c)
}

func hook(fn func(n int, c *nodev1.ImageChunk) (bool, error)) func(nodev1.Node_PullImageServer) nodev1.Node_PullImageServer {
	return func(s nodev1.Node_PullImageServer) nodev1.Node_PullImageServer {
		return &hookStream{Node_PullImageServer: s, hook: fn}
	}
}

func TestPullImageFailures(t *testing.T) {
	for _, c := range []struct {
		name  string
		hook  func(n int, c *nodev1.ImageChunk) (bool, error)
		check func(error) bool
	}{
		{"flipped byte", func(n int, c *nodev1.ImageChunk) (bool, error) {
			if n == 4 {
				c.GetData().Data[100] ^= 0x01
			}
			return true, nil
		}, func(err error) bool { return errors.Is(err, ErrCorrupt) }},
		{"dropped chunk", func(n int, c *nodev1.ImageChunk) (bool, error) {
			return n != 6, nil
		}, func(err error) bool { return errors.Is(err, ErrCorrupt) }},
		{"wrong size", func(n int, c *nodev1.ImageChunk) (bool, error) {
			if h := c.GetHeader(); h != nil {
				h.Size--
			}
			return true, nil
		}, func(err error) bool { return errors.Is(err, ErrCorrupt) }},
		{"server fails mid-stream", func(n int, c *nodev1.ImageChunk) (bool, error) {
			if n == 8 {
				return false, status.Error(codes.Unavailable, "disk went away")
			}
			return true, nil
		}, Retryable},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, cl, _, dir := imageFixture(t, 20<<20)
			f.setWrap(hook(c.hook))
			_, _, err := ReceiveImage(callCtx(t), cl, imageName, filepath.Join(dir, "x.img"))
			if err == nil || !c.check(err) {
				t.Fatalf("ReceiveImage: got %v", err)
			}
			t.Logf("failed as expected: %v", err)
			wantOnly(t, dir)
		})
	}
}

func TestPullImageRetried(t *testing.T) {
	f, cl, src, dir := imageFixture(t, 8<<20)
	var pulls atomic.Int32
	f.setWrap(func(s nodev1.Node_PullImageServer) nodev1.Node_PullImageServer {
		first := pulls.Add(1) == 1
		return &hookStream{Node_PullImageServer: s, hook: func(n int, c *nodev1.ImageChunk) (bool, error) {
			if first && n == 3 {
				return false, status.Error(codes.Unavailable, "peer restarting")
			}
			return true, nil
		}}
	})
	dst := filepath.Join(dir, "x.img")
	var sum string
	err := Retry(callCtx(t), 3, func() (err error) {
		_, sum, err = ReceiveImage(callCtx(t), cl, imageName, dst)
		return err
	})
	if err != nil || pulls.Load() != 2 || sum != fileSum(t, src) {
		t.Fatalf("retried pull: err %v after %d pulls, checksum %s", err, pulls.Load(), sum)
	}
	wantOnly(t, dir, "x.img")
}

func TestPullImageCancelled(t *testing.T) {
	f, cl, _, dir := imageFixture(t, 20<<20)
	ctx, cancel := context.WithCancel(callCtx(t))
	f.setWrap(hook(func(n int, c *nodev1.ImageChunk) (bool, error) {
		if n == 5 {
			cancel()
		}
		return true, nil
	}))
	_, _, err := ReceiveImage(ctx, cl, imageName, filepath.Join(dir, "x.img"))
	if status.Code(err) != codes.Canceled {
		t.Fatalf("ReceiveImage after cancel: %v", err)
	}
	wantOnly(t, dir)
}

func TestPullImageNotFoundAndBadArgs(t *testing.T) {
	_, cl, _, dir := imageFixture(t, 1<<20)
	_, _, err := ReceiveImage(callCtx(t), cl, "tpl-missing", filepath.Join(dir, "x.img"))
	if status.Code(err) != codes.NotFound {
		t.Fatalf("pull a missing image: %v", err)
	}
	if _, _, err := ReceiveImage(callCtx(t), cl, "", filepath.Join(dir, "x.img")); err == nil {
		t.Fatal("empty name accepted")
	}
	if _, _, err := ReceiveImage(callCtx(t), cl, imageName, ""); err == nil {
		t.Fatal("empty dstPath accepted")
	}
	wantOnly(t, dir)
}

func TestPullEmptyImage(t *testing.T) {
	f, cl, _, dir := imageFixture(t, 1<<20)
	empty := filepath.Join(t.TempDir(), "empty.img")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.images["empty"] = empty
	f.mu.Unlock()
	n, sum, err := ReceiveImage(callCtx(t), cl, "empty", filepath.Join(dir, "e.img"))
	if err != nil || n != 0 || sum != fileSum(t, empty) {
		t.Fatalf("pull empty image: %d %s %v", n, sum, err)
	}
	wantOnly(t, dir, "e.img")
}

func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.img", "a.img.tmp-123456", "b.img.tmp-", "c.tmp-x9", "tpl-1.img.tmp-42"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveStaleTemps(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Errorf("removed %v, want the two temp files", removed)
	}
	es, _ := os.ReadDir(dir)
	if len(es) != 3 {
		t.Errorf("left %d entries, want 3", len(es))
	}
}

package reflink_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/auto"
	"github.com/warrenhq/warren/blockdev/pooltest"
	"github.com/warrenhq/warren/blockdev/reflink"
)

// countHandler counts log records by message and forwards them to the test log.
type countHandler struct {
	slog.Handler
	mu sync.Mutex
	n  map[string]int
}

func (h *countHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	h.n[r.Message]++
	h.mu.Unlock()
	return h.Handler.Handle(ctx, r)
}

func (h *countHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return &shared{h, h.Handler.WithAttrs(a)}
}

func (h *countHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[msg]
}

// shared is a countHandler with attributes, counting into its parent.
type shared struct {
	parent *countHandler
	slog.Handler
}

func (s *shared) Handle(ctx context.Context, r slog.Record) error {
	s.parent.mu.Lock()
	s.parent.n[r.Message]++
	s.parent.mu.Unlock()
	return s.Handler.Handle(ctx, r)
}

func (s *shared) WithAttrs(a []slog.Attr) slog.Handler {
	return &shared{s.parent, s.Handler.WithAttrs(a)}
}

// sizesFixture is a reflink pool (XFS pool file) holding image "base" grown
// to 512 MiB, with a log that counts messages.
type sizesFixture struct {
	ctx     context.Context
	dir     string // the node data dir; the pool is dir/pool
	pool    blockdev.Pool
	log     *countHandler
	classes string // dir/pool/sizes/base
}

func newSizesFixture(t *testing.T, prefix string, maxClasses int) *sizesFixture {
	t.Helper()
	f := &sizesFixture{ctx: context.Background(), dir: t.TempDir()}
	t.Cleanup(func() { pooltest.AssertNoLeaks(t, f.dir) })
	f.log = &countHandler{Handler: testLogger(t).Handler(), n: map[string]int{}}
	p, err := auto.Open(f.ctx, auto.Config{
		DataDir: f.dir, Prefix: prefix, Backend: auto.BackendReflink,
		PoolFileSize: 8 << 30, Logger: slog.New(f.log), MaxSizeClasses: maxClasses,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.pool = p
	t.Cleanup(func() { p.CleanupStale(f.ctx); p.Close() })
	src := filepath.Join(t.TempDir(), "base.img")
	pooltest.MakeImage(t, src, 64<<20)
	if _, err := p.ImportImage(f.ctx, "base", src); err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureImageSizes(f.ctx, 512<<20); err != nil {
		t.Fatal(err)
	}
	f.classes = filepath.Join(f.dir, "pool", "sizes", "base")
	return f
}

// create makes snapshot name of size bytes, checks its filesystem has exactly
// that size and the image's files, and removes it again.
func (f *sizesFixture) create(t *testing.T, pool blockdev.Pool, name string, size int64) {
	t.Helper()
	s, err := pool.CreateSnapshot(f.ctx, name, "base", size)
	if err != nil {
		t.Fatal(err)
	}
	if s.SizeBytes != size {
		t.Errorf("%s: asked %d bytes, got a filesystem of %d", name, size, s.SizeBytes)
	}
	mnt := filepath.Join(f.dir, "mnt-"+name)
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	pooltest.Mount(t, s.Device, mnt)
	pooltest.CheckKnownFiles(t, mnt)
	pooltest.Unmount(t, mnt)
	if err := pool.Remove(f.ctx, name); err != nil {
		t.Fatal(err)
	}
}

// sizes lists the sizes (MiB) of the image's class files, ascending.
func (f *sizesFixture) sizes(t *testing.T) []int64 {
	t.Helper()
	entries, err := os.ReadDir(f.classes)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, e := range entries {
		n, err := strconv.ParseInt(strings.TrimSuffix(e.Name(), ".img"), 10, 64)
		if err != nil {
			t.Fatalf("unexpected file %s in %s", e.Name(), f.classes)
		}
		out = append(out, n>>20)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (f *sizesFixture) inode(t *testing.T, mib int64) uint64 {
	t.Helper()
	st, err := os.Stat(filepath.Join(f.classes, strconv.FormatInt(mib<<20, 10)+".img"))
	if err != nil {
		t.Fatalf("class %d MiB: %v", mib, err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}

// TestSizeClassMadeOnceAndReused: the first snapshot of a size other than the
// image's makes its class, later ones (also after a restart) clone it, the
// image's own size and the compact form's make none, and RemoveImage deletes
// the classes.
func TestSizeClassMadeOnceAndReused(t *testing.T) {
	f := newSizesFixture(t, "sc1", 0)
	f.create(t, f.pool, "own", 512<<20)
	f.create(t, f.pool, "compact", 64<<20)
	if got := f.sizes(t); len(got) != 0 {
		t.Fatalf("classes for the image's own and compact sizes: %v", got)
	}
	f.create(t, f.pool, "first", 96<<20)
	if got := f.sizes(t); fmt.Sprint(got) != "[96]" {
		t.Fatalf("classes after the first 96 MiB snapshot: %v MiB, want [96]", got)
	}
	ino := f.inode(t, 96)
	f.create(t, f.pool, "second", 96<<20)
	f.create(t, f.pool, "bigger", 1024<<20) // grows past the image: from the grown image
	if got := f.sizes(t); fmt.Sprint(got) != "[96 1024]" {
		t.Fatalf("classes: %v MiB, want [96 1024]", got)
	}
	if f.inode(t, 96) != ino {
		t.Fatal("the 96 MiB class was made again, not reused")
	}
	if n := f.log.count("size class made"); n != 2 {
		t.Fatalf("%d classes made, want 2", n)
	}

	// A restarted process finds the class and clones it.
	q, err := reflink.Open(f.ctx, reflink.Config{Dir: filepath.Join(f.dir, "pool"), Prefix: "sc1", Logger: slog.New(f.log)})
	if err != nil {
		t.Fatal(err)
	}
	f.create(t, q, "after-restart", 96<<20)
	if f.inode(t, 96) != ino || f.log.count("size class made") != 2 {
		t.Fatal("a restarted pool made the 96 MiB class again")
	}
	q.Close()

	if err := f.pool.RemoveImage(f.ctx, "base"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.classes); !os.IsNotExist(err) {
		t.Fatalf("size classes left after RemoveImage: %v", err)
	}
}

// TestSizeClassConcurrentFirstUse: concurrent first snapshots of one new size
// make its class once, and every one gets exactly that size.
func TestSizeClassConcurrentFirstUse(t *testing.T) {
	f := newSizesFixture(t, "sc2", 0)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("c%d", i)
			s, err := f.pool.CreateSnapshot(f.ctx, name, "base", 200<<20)
			if err != nil {
				t.Error(err)
				failed.Add(1)
				return
			}
			if s.SizeBytes != 200<<20 {
				t.Errorf("%s: filesystem of %d bytes, want %d", name, s.SizeBytes, 200<<20)
			}
			if err := f.pool.Remove(f.ctx, name); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.FailNow()
	}
	if n := f.log.count("size class made"); n != 1 {
		t.Fatalf("%d classes made by concurrent first uses, want 1", n)
	}
	if got := f.sizes(t); fmt.Sprint(got) != "[200]" {
		t.Fatalf("classes: %v MiB, want [200]", got)
	}
}

// TestSizeClassBound: with MaxSizeClasses 2 the least recently used class is
// evicted, and an evicted size still gets exactly its size (a new class).
func TestSizeClassBound(t *testing.T) {
	f := newSizesFixture(t, "sc3", 2)
	f.create(t, f.pool, "a", 80<<20)
	f.create(t, f.pool, "b", 96<<20)
	f.create(t, f.pool, "c", 112<<20) // evicts 80
	if got := f.sizes(t); fmt.Sprint(got) != "[96 112]" {
		t.Fatalf("classes: %v MiB, want [96 112]", got)
	}
	f.create(t, f.pool, "d", 96<<20)  // 96 used last now
	f.create(t, f.pool, "e", 128<<20) // evicts 112
	if got := f.sizes(t); fmt.Sprint(got) != "[96 128]" {
		t.Fatalf("classes: %v MiB, want [96 128]", got)
	}
	f.create(t, f.pool, "f", 80<<20) // made again, evicts 96
	if got := f.sizes(t); fmt.Sprint(got) != "[80 128]" {
		t.Fatalf("classes: %v MiB, want [80 128]", got)
	}
	if n := f.log.count("size class evicted"); n != 3 {
		t.Fatalf("%d classes evicted, want 3", n)
	}
	if _, err := reflink.Open(f.ctx, reflink.Config{Dir: filepath.Join(f.dir, "pool"), Prefix: "sc3", MaxSizeClasses: -1}); err == nil {
		t.Fatal("negative MaxSizeClasses accepted")
	}
}

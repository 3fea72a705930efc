// Package pooltest is the conformance suite every blockdev.Pool backend runs
// (modeled on containerd's snapshotter testsuite), plus helpers to make ext4
// images and mount them, and the pool benchmarks.
//
// The suite needs root, loop devices and e2fsprogs; it fails (never skips) when
// they are missing.
package pooltest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/warrenhq/warren/blockdev"
)

// Opener opens a pool over dir (a fresh, empty directory the suite owns) with
// the given prefix. The suite closes the pool.
type Opener func(t *testing.T, dir, prefix string) blockdev.Pool

const (
	mib       = int64(1) << 20
	imageSize = 128 * mib // the suite's origin images
	prefix    = "pt"
)

// Run runs the conformance suite against pools made by open.
func Run(t *testing.T, open Opener) {
	if os.Geteuid() != 0 {
		t.Fatal("pooltest needs root (loop devices, mounts)")
	}
	tests := []struct {
		name string
		fn   func(*harness)
	}{
		{"CreateRemoveMany", testCreateRemoveMany},
		{"ConcurrentCreates", testConcurrentCreates},
		{"RemoveFlattenRace", testRemoveFlattenRace},
		{"WriteIsolation", testWriteIsolation},
		{"ExactSize", testExactSize},
		{"ENOSPC", testENOSPC},
		{"FlattenRoundTrip", testFlattenRoundTrip},
		{"EnsureImageSizes", testEnsureImageSizes},
		{"CrashCleanup", testCrashCleanup},
		{"Images", testImages},
		{"NameValidation", testNameValidation},
		{"NotFound", testNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(newHarness(t, open))
		})
	}
}

// harness is one subtest's pool and scratch space.
type harness struct {
	t       *testing.T
	ctx     context.Context
	dir     string // the pool's directory
	work    string // scratch files outside the pool (source images)
	open    Opener
	pool    blockdev.Pool
	loops   []string // loop devices under dir right after open (pool-wide ones)
	dropped map[blockdev.Pool]bool
}

func newHarness(t *testing.T, open Opener) *harness {
	dir, work := t.TempDir(), t.TempDir()
	t.Cleanup(func() { AssertNoLeaks(t, dir) })
	h := &harness{t: t, ctx: context.Background(), dir: dir, work: work, open: open, dropped: map[blockdev.Pool]bool{}}
	h.pool = h.openPool()
	h.loops = h.loopSet()
	return h
}

// openPool opens a pool over h.dir; at cleanup, unless the pool was dropped
// (a simulated crash), it checks no snapshot is left, then runs CleanupStale and
// Close.
func (h *harness) openPool() blockdev.Pool {
	p := h.open(h.t, h.dir, prefix)
	h.t.Cleanup(func() {
		if h.dropped[p] {
			return
		}
		if snaps, err := p.Snapshots(h.ctx); err != nil || (len(snaps) > 0 && !h.t.Failed()) {
			h.t.Errorf("snapshots left at end of test: %v (err %v)", snaps, err)
		}
		if err := p.CleanupStale(h.ctx); err != nil {
			h.t.Errorf("cleanup stale: %v", err)
		}
		if err := p.Close(); err != nil {
			h.t.Errorf("close: %v", err)
		}
	})
	return p
}

func (h *harness) loopSet() []string {
	var out []string
	for _, d := range LoopsUnder(h.t, h.dir) {
		out = append(out, d.Path)
	}
	slices.Sort(out)
	return out
}

// assertLoopsReleased fails unless only the pool-wide loop devices remain.
func (h *harness) assertLoopsReleased() {
	h.t.Helper()
	if got := h.loopSet(); !slices.Equal(got, h.loops) {
		h.t.Fatalf("loop devices under %s: %v, want only the pool's own %v", h.dir, got, h.loops)
	}
}

// importImage makes a MakeImage image of size and imports it as name.
func (h *harness) importImage(name string, size int64) blockdev.ImageInfo {
	h.t.Helper()
	src := filepath.Join(h.work, name+".src.img")
	MakeImage(h.t, src, size)
	info, err := h.pool.ImportImage(h.ctx, name, src)
	if err != nil {
		h.t.Fatalf("import image %s: %v", name, err)
	}
	return info
}

func (h *harness) create(name, origin string, size int64) blockdev.Snapshot {
	h.t.Helper()
	s, err := h.pool.CreateSnapshot(h.ctx, name, origin, size)
	if err != nil {
		h.t.Fatalf("create snapshot %s: %v", name, err)
	}
	if s.Name != name || s.Origin != origin || s.Device == "" {
		h.t.Fatalf("create snapshot %s: got %+v", name, s)
	}
	return s
}

func (h *harness) remove(name string) {
	h.t.Helper()
	if err := h.pool.Remove(h.ctx, name); err != nil {
		h.t.Fatalf("remove snapshot %s: %v", name, err)
	}
}

// mount mounts snapshot s under h.dir/mnt and returns the mount point.
func (h *harness) mount(s blockdev.Snapshot) string {
	h.t.Helper()
	dir := filepath.Join(h.dir, "mnt", s.Name)
	Mount(h.t, s.Device, dir)
	return dir
}

// wantErr fails unless err wraps want and its message mentions each of words.
func (h *harness) wantErr(what string, err, want error, words ...string) {
	h.t.Helper()
	if !errors.Is(err, want) {
		h.t.Fatalf("%s: error %v, want %v", what, err, want)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			h.t.Fatalf("%s: error %q does not name %q", what, err, w)
		}
	}
}

func name(prefix string, i int) string { return fmt.Sprintf("%s-%02d", prefix, i) }

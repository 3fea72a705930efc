package imagestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/warrenhq/warren/blockdev"
)

var errClosed = fmt.Errorf("closed: %w", blockdev.ErrUnavailable)

// newStore opens a store over a fresh directory; *closed makes CheckOpen fail.
func newStore(t *testing.T, compact bool) (*Store, *sync.Mutex, *bool) {
	t.Helper()
	mu, closed := new(sync.Mutex), new(bool)
	s, err := New(Config{
		Dir: t.TempDir(), Prefix: "t", Compact: compact, Mu: mu,
		CheckOpen: func() error {
			if mu.TryLock() {
				mu.Unlock()
				t.Error("CheckOpen called without Mu held")
			}
			if *closed {
				return errClosed
			}
			return nil
		},
		Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, mu, closed
}

// store writes a (non-ext4) file as stored image name.
func store(t *testing.T, s *Store, name string) {
	t.Helper()
	if err := os.WriteFile(s.Path(name), []byte(name), 0o600); err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}

func TestLayout(t *testing.T) {
	for _, compact := range []bool{false, true} {
		s, _, _ := newStore(t, compact)
		dir := filepath.Dir(s.Dir())
		for sub, want := range map[string]bool{"images": true, "tmp": true, "compact": compact} {
			_, err := os.Stat(filepath.Join(dir, sub))
			if got := err == nil; got != want {
				t.Errorf("compact %v: %s exists: %v, want %v", compact, sub, got, want)
			}
		}
		tmp := s.TmpPath("op")
		if filepath.Dir(tmp) != s.TmpDir() || tmp == s.TmpPath("op") {
			t.Errorf("TmpPath %s: not a fresh name under %s", tmp, s.TmpDir())
		}
		if base := filepath.Base(tmp); base[:5] != "t-op-" || filepath.Ext(base) != ".img" {
			t.Errorf("TmpPath %s: want t-op-<rand>.img", tmp)
		}
	}
}

func TestReserveNew(t *testing.T) {
	s, _, closed := newStore(t, false)
	release, err := s.ReserveNew("a", "import")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ReserveNew("a", "flatten")
	wantErr(t, "reserve held", err, blockdev.ErrExists)
	wantErr(t, "remove held", s.RemoveImage(context.Background(), "a"), blockdev.ErrInvalid)
	release()
	if release, err = s.ReserveNew("a", "flatten"); err != nil {
		t.Fatalf("reserve after release: %v", err)
	}
	release()

	store(t, s, "b")
	_, err = s.ReserveNew("b", "import")
	wantErr(t, "reserve stored", err, blockdev.ErrExists)
	tmp := s.TmpPath("x")
	if err := os.WriteFile(tmp, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "publish over stored", s.Publish(tmp, "b"), blockdev.ErrExists)

	*closed = true
	_, err = s.ReserveNew("c", "import")
	wantErr(t, "reserve closed", err, errClosed)
}

func TestRemoveImage(t *testing.T) {
	ctx := context.Background()
	s, mu, _ := newStore(t, true)
	store(t, s, "a")
	if err := os.WriteFile(s.CompactPath("a"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	s.Ref("a")
	s.Ref("a")
	mu.Unlock()
	wantErr(t, "remove with snapshots", s.RemoveImage(ctx, "a"), blockdev.ErrInvalid)
	mu.Lock()
	s.Unref("a")
	mu.Unlock()
	wantErr(t, "remove with a snapshot", s.RemoveImage(ctx, "a"), blockdev.ErrInvalid)
	mu.Lock()
	s.Unref("a")
	mu.Unlock()
	if err := s.RemoveImage(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{s.Path("a"), s.CompactPath("a")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left: %v", p, err)
		}
	}
	wantErr(t, "remove again", s.RemoveImage(ctx, "a"), blockdev.ErrNotFound)
	wantErr(t, "remove bad name", s.RemoveImage(ctx, "../a"), blockdev.ErrInvalid)
	if mu.TryLock() {
		mu.Unlock()
	} else {
		t.Error("Mu left locked")
	}
}

func TestClaimGrow(t *testing.T) {
	s, mu, _ := newStore(t, false)
	release, ok, err := s.ClaimGrow("a", true)
	if !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	_, ok, err = s.ClaimGrow("a", false)
	wantErr(t, "claim while growing", err, blockdev.ErrUnavailable)
	if ok {
		t.Error("claimed twice")
	}
	release()

	mu.Lock()
	s.Ref("a")
	mu.Unlock()
	_, ok, err = s.ClaimGrow("a", true)
	wantErr(t, "in place with a snapshot", err, blockdev.ErrInvalid)
	if ok {
		t.Error("claimed in place with a snapshot")
	}
	release, ok, err = s.ClaimGrow("a", false)
	if !ok || err != nil {
		t.Fatalf("claim with a snapshot, not in place: %v %v", ok, err)
	}
	release()

	mu.Lock()
	s.busy["a"] = "remove"
	mu.Unlock()
	if _, ok, err := s.ClaimGrow("a", true); ok || err != nil {
		t.Errorf("claim while removing: %v %v, want nothing to do", ok, err)
	}
}

func TestImagesAndEnsureSizes(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newStore(t, false)
	for _, n := range []string{"b", "a", "c"} {
		store(t, s, n)
	}
	for _, junk := range []string{"notes.txt", "bad..name.img", ".img"} {
		if err := os.WriteFile(filepath.Join(s.Dir(), junk), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	images, err := s.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, img := range images {
		names = append(names, img.Name)
		if img.Path != s.Path(img.Name) || img.ApparentBytes != 1 {
			t.Errorf("image %+v", img)
		}
	}
	if !reflect.DeepEqual(names, []string{"a", "b", "c"}) {
		t.Errorf("images %v", names)
	}

	wantErr(t, "below a block", s.EnsureSizes(ctx, 4095, nil), blockdev.ErrInvalid)
	var grown []string
	grow := func(_ context.Context, name string, size int64) error {
		if size != 8192 {
			t.Errorf("grow %s to %d, want 8192", name, size)
		}
		grown = append(grown, name)
		if name == "b" {
			return errors.New("boom")
		}
		return nil
	}
	if err := s.EnsureSizes(ctx, 8192+100, grow); err == nil || !reflect.DeepEqual(grown, []string{"a", "b"}) {
		t.Errorf("ensure: %v after %v, want the failure of b", err, grown)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	wantErr(t, "ensure cancelled", s.EnsureSizes(cctx, 8192, grow), context.Canceled)
}

// TestRemoveImageOnRemove: OnRemove runs while the image is held "remove"
// (without Mu), only for a stored image; its error keeps the image.
func TestRemoveImageOnRemove(t *testing.T) {
	s, mu, _ := newStore(t, false)
	var calls []string
	fail := errors.New("boom")
	var result error
	s.onRemove = func(name string) error {
		if !mu.TryLock() {
			t.Error("OnRemove called with Mu held")
		} else {
			if s.busy[name] != "remove" {
				t.Errorf("OnRemove: image held by %q, want remove", s.busy[name])
			}
			mu.Unlock()
		}
		calls = append(calls, name)
		return result
	}
	ctx := context.Background()
	wantErr(t, "remove missing", s.RemoveImage(ctx, "none"), blockdev.ErrNotFound)
	store(t, s, "a")
	result = fail
	wantErr(t, "remove with failing OnRemove", s.RemoveImage(ctx, "a"), fail)
	if _, err := os.Stat(s.Path("a")); err != nil {
		t.Fatalf("image deleted although OnRemove failed: %v", err)
	}
	result = nil
	if err := s.RemoveImage(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(calls, []string{"a", "a"}) {
		t.Fatalf("OnRemove calls %v, want [a a]", calls)
	}
}

package loop_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/loop"
	"github.com/warrenhq/warren/blockdev/pooltest"
)

func requireRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("loop tests need root")
	}
}

// sparseFile makes a sparse file of size in a temp dir.
func sparseFile(t *testing.T, name string, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
	return p
}

// attach attaches path and detaches it at cleanup if still attached to path.
func attach(t *testing.T, path string, ro bool) string {
	t.Helper()
	dev, err := loop.Attach(path, ro)
	if err != nil {
		t.Fatalf("attach %s: %v", path, err)
	}
	t.Cleanup(func() {
		if b, _ := loop.BackingFile(dev); b == path {
			loop.Detach(dev)
		}
	})
	return dev
}

func listed(t *testing.T, dev, path string) bool {
	t.Helper()
	devices, err := loop.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devices {
		if d.Path == dev && d.BackingFile == path {
			return true
		}
	}
	return false
}

func TestAttachDetachList(t *testing.T) {
	requireRoot(t)
	path := sparseFile(t, "rw.img", 16<<20)
	dev := attach(t, path, false)
	if !listed(t, dev, path) {
		t.Fatalf("%s backed by %s not listed", dev, path)
	}
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	info, err := unix.IoctlLoopGetStatus64(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if name := string(bytes.TrimRight(info.File_name[:], "\x00")); !strings.HasSuffix(path, name) || name == "" {
		t.Fatalf("lo_file_name %q, want a suffix of %s", name, path)
	}
	msg := []byte("through the loop device")
	if _, err := f.WriteAt(msg, 4096); err != nil {
		t.Fatal(err)
	}
	f.Sync()
	f.Close()
	got := make([]byte, len(msg))
	b, _ := os.Open(path)
	b.ReadAt(got, 4096)
	b.Close()
	if !bytes.Equal(got, msg) {
		t.Fatalf("backing file has %q, want %q", got, msg)
	}
	if err := loop.Detach(dev); err != nil {
		t.Fatal(err)
	}
	if listed(t, dev, path) {
		t.Fatalf("%s still listed after detach", dev)
	}
	if err := loop.Detach(dev); err != nil {
		t.Fatalf("detaching a free device: %v", err)
	}
	if err := loop.Detach("/dev/sda"); err == nil {
		t.Fatal("detach of a non-loop device succeeded")
	}
}

func TestAttachReadOnly(t *testing.T) {
	requireRoot(t)
	path := sparseFile(t, "ro.img", 16<<20)
	dev := attach(t, path, true)
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err == nil {
		_, err = f.WriteAt([]byte("x"), 0)
		if err == nil {
			err = f.Sync()
		}
		f.Close()
	}
	if err == nil {
		t.Fatal("wrote to a read-only loop device")
	}
}

// TestDetachBusy checks a mounted device is not torn down under the mount: Detach
// reports EBUSY and the device detaches itself on unmount.
func TestDetachBusy(t *testing.T) {
	requireRoot(t)
	path := filepath.Join(t.TempDir(), "fs.img")
	pooltest.MakeImage(t, path, 32<<20)
	dev := attach(t, path, false)
	mnt := filepath.Join(t.TempDir(), "mnt")
	pooltest.Mount(t, dev, mnt)
	if err := loop.Detach(dev); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("detach of a mounted device: %v, want EBUSY", err)
	}
	pooltest.CheckKnownFiles(t, mnt)
	pooltest.Unmount(t, mnt)
	if err := loop.Detach(dev); err != nil {
		t.Fatalf("detach after unmount: %v", err)
	}
	if listed(t, dev, path) {
		t.Fatalf("%s still attached after unmount", dev)
	}
}

func TestConcurrentAttach(t *testing.T) {
	requireRoot(t)
	const n = 8
	devs := make([]string, n)
	paths := make([]string, n)
	errs := make([]error, n)
	for i := range paths {
		paths[i] = sparseFile(t, "c.img", 8<<20)
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			devs[i], errs[i] = loop.Attach(paths[i], i%2 == 0)
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range devs {
		if errs[i] != nil {
			t.Fatalf("attach %d: %v", i, errs[i])
		}
		t.Cleanup(func() { loop.Detach(devs[i]) })
		if seen[devs[i]] || !listed(t, devs[i], paths[i]) {
			t.Fatalf("device %s: duplicate or not backed by %s", devs[i], paths[i])
		}
		seen[devs[i]] = true
	}
	for i := range devs {
		if err := loop.Detach(devs[i]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestShared(t *testing.T) {
	requireRoot(t)
	a, b := sparseFile(t, "a.img", 8<<20), sparseFile(t, "b.img", 8<<20)
	var s loop.Shared
	const n = 6
	devs := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dev, err := s.Acquire(a)
			if err != nil {
				t.Error(err)
			}
			devs[i] = dev
		}()
	}
	wg.Wait()
	t.Cleanup(func() { loop.Detach(devs[0]) })
	for _, d := range devs {
		if d != devs[0] {
			t.Fatalf("shared devices differ: %v", devs)
		}
	}
	devB, err := s.Acquire(b)
	if err != nil {
		t.Fatal(err)
	}
	if devB == devs[0] {
		t.Fatalf("two files share %s", devB)
	}
	if refs := s.Refs(); refs[a] != n || refs[b] != 1 {
		t.Fatalf("refs %v, want %s:%d %s:1", refs, a, n, b)
	}
	for i := 0; i < n-1; i++ {
		if err := s.Release(a); err != nil {
			t.Fatal(err)
		}
	}
	if !listed(t, devs[0], a) {
		t.Fatal("device detached while a reference remains")
	}
	if err := s.Release(a); err != nil {
		t.Fatal(err)
	}
	if listed(t, devs[0], a) {
		t.Fatal("device still attached after the last release")
	}
	if err := s.Release(a); !errors.Is(err, blockdev.ErrNotFound) {
		t.Fatalf("release without a reference: %v, want ErrNotFound", err)
	}
	if err := s.Release(b); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Acquire(filepath.Join(t.TempDir(), "missing.img")); err == nil {
		t.Fatal("acquired a missing file")
	}
	if refs := s.Refs(); len(refs) != 0 {
		t.Fatalf("refs left: %v", refs)
	}
}

// TestSharedChurn acquires and releases one file from many goroutines; at the
// end nothing is attached.
func TestSharedChurn(t *testing.T) {
	requireRoot(t)
	a := sparseFile(t, "churn.img", 8<<20)
	var s loop.Shared
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				if _, err := s.Acquire(a); err != nil {
					t.Error(err)
					return
				}
				if err := s.Release(a); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	devices, _ := loop.List()
	for _, d := range devices {
		if d.BackingFile == a {
			t.Fatalf("%s still attached after churn", d.Path)
		}
	}
}

package pooltest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev/internal/ext4"
	"github.com/warrenhq/warren/blockdev/internal/fsutil"
	"github.com/warrenhq/warren/blockdev/loop"
)

// KnownFiles are the files MakeImage puts in an image, by path inside it.
var KnownFiles = map[string]string{
	"hello.txt":          "hello from warren\n",
	"etc/hostname":       "pooltest\n",
	"data/numbers.txt":   strings.Repeat("0123456789", 1000) + "\n",
	"data/deep/leaf.txt": "leaf\n",
}

// MountOptions are the ext4 options Mount uses. noinit_itable stops the kernel
// zeroing never-used inode tables in the background, which would otherwise give
// every idle snapshot its own copy of them.
const MountOptions = "noinit_itable"

// MakeImage makes an ext4 image of sizeBytes (4 KiB blocks) at path holding
// KnownFiles (mkfs.ext4 -d).
func MakeImage(t testing.TB, path string, sizeBytes int64) {
	t.Helper()
	src := t.TempDir()
	for name, content := range KnownFiles {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := ext4.Mkfs(context.Background(), path, sizeBytes, src); err != nil {
		t.Fatalf("make image %s: %v", path, err)
	}
}

// CheckKnownFiles fails t unless the filesystem mounted at dir holds KnownFiles.
func CheckKnownFiles(t testing.TB, dir string) {
	t.Helper()
	for name, want := range KnownFiles {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("known file: %v", err)
		}
		if string(got) != want {
			t.Fatalf("known file %s: content changed (%d bytes, want %d)", name, len(got), len(want))
		}
	}
}

// Mount mounts the ext4 filesystem on dev at dir (created) with MountOptions and
// unmounts it at cleanup if the test has not.
func Mount(t testing.TB, dev, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dev, dir, "ext4", 0, MountOptions); err != nil {
		t.Fatalf("mount %s at %s: %v", dev, dir, err)
	}
	t.Cleanup(func() {
		if mounted(dir) {
			if err := unix.Unmount(dir, 0); err != nil {
				t.Errorf("cleanup: unmount %s: %v", dir, err)
			}
		}
	})
}

// Unmount unmounts dir.
func Unmount(t testing.TB, dir string) {
	t.Helper()
	if err := unix.Unmount(dir, 0); err != nil {
		t.Fatalf("unmount %s: %v", dir, err)
	}
}

func mounted(dir string) bool {
	mounts, err := fsutil.Mounts()
	if err != nil {
		return false
	}
	for _, m := range mounts {
		if m.Point == dir {
			return true
		}
	}
	return false
}

// SHA256File returns the hex sha256 of the file at path.
func SHA256File(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatalf("sha256 %s: %v", path, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// LoopsUnder returns the loop devices whose backing file is under dir.
func LoopsUnder(t testing.TB, dir string) []loop.Device {
	t.Helper()
	devices, err := loop.List()
	if err != nil {
		t.Fatal(err)
	}
	var out []loop.Device
	for _, d := range devices {
		if under(d.BackingFile, dir) {
			out = append(out, d)
		}
	}
	return out
}

// MountsUnder returns the mount points at or under dir.
func MountsUnder(t testing.TB, dir string) []string {
	t.Helper()
	mounts, err := fsutil.Mounts()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range mounts {
		if under(m.Point, dir) {
			out = append(out, m.Point)
		}
	}
	return out
}

func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// AssertNoLeaks fails t if a loop device backed by a file under dir, or a mount
// under dir, remains. Loop devices are given a moment to finish detaching.
func AssertNoLeaks(t testing.TB, dir string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for len(LoopsUnder(t, dir)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if l := LoopsUnder(t, dir); len(l) > 0 {
		t.Errorf("loop devices left under %s: %v", dir, l)
	}
	if m := MountsUnder(t, dir); len(m) > 0 {
		t.Errorf("mounts left under %s: %v", dir, m)
	}
}

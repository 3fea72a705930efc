package fsutil

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestUnescape(t *testing.T) {
	if got := unescape(`/mnt/a\040b\134c`); got != `/mnt/a b\c` {
		t.Fatalf("unescape: %q", got)
	}
}

// TestCopySparse copies across filesystems (no reflink on ext4 /tmp): data is
// equal and holes stay holes.
func TestCopySparse(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(64 << 20)
	f.WriteAt(bytes.Repeat([]byte{1}, 4096), 0)
	f.WriteAt(bytes.Repeat([]byte{2}, 4096), 32<<20)
	f.Close()
	if err := CopySparse(dst, src); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(dst)
	if !bytes.Equal(a, b) {
		t.Fatal("copy differs")
	}
	if alloc, _ := Allocated(dst); alloc > 1<<20 {
		t.Fatalf("copy allocated %d bytes, want sparse", alloc)
	}
	if err := CopySparse(dst, src); err == nil {
		t.Fatal("copy over an existing file succeeded")
	}
}

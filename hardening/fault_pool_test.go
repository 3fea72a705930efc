package hardening_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFaultPoolFull runs a node on a small pool (a 700 MiB XFS pool file made
// before its first start, a 100 MB free-space reserve), fills the pool from
// the host, and creates a sandbox: refused with a clear 429 "short of disk",
// never a 500 or a half-made sandbox; the running sandbox keeps working; once
// space is freed creates work again.
func TestFaultPoolFull(t *testing.T) {
	p := newProcNode(t)
	pool := filepath.Join(p.dataDir, "pool.xfs")
	f, err := os.Create(pool)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(700 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out, err := exec.Command("mkfs.xfs", "-q", "-m", "reflink=1", pool).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.xfs: %v: %s", err, out)
	}
	p.args = append(p.args, "--default-disk-size", "1024", "--min-free-disk", "100")
	p.start()
	c := p.client()
	prefix := hostPrefix(t, p.dataDir)
	bystander := c.create(t, nil)
	c.mustSh(t, bystander, "echo before > /kept")
	base := snapshotHost(t, p.dataDir, prefix)

	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Join(p.dataDir, "pool"), &st); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(p.dataDir, "pool", "filler")
	ff, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	// Everything free, minus nothing: fallocate stops at ENOSPC.
	_ = unix.Fallocate(int(ff.Fd()), 0, 0, int64(st.Bavail)*st.Bsize)
	for size := int64(64 << 20); size >= 4096; size /= 2 {
		fi, _ := ff.Stat()
		for unix.Fallocate(int(ff.Fd()), 0, fi.Size(), size) == nil {
			fi, _ = ff.Stat()
		}
	}
	ff.Close()
	_ = unix.Statfs(filepath.Join(p.dataDir, "pool"), &st)
	t.Logf("pool free after the fill: %d KiB", int64(st.Bavail)*st.Bsize>>10)

	r := c.do(t, "POST", "/v1/sandboxes", map[string]any{"template": "base", "disk_size_mb": 1024})
	clear := r.status == 429 && r.errShape() && strings.Contains(string(r.body), "short of disk")
	t.Logf("create on a full pool: %s", r)
	if r.status == 201 {
		var sb sandboxJSON
		r.decode(t, &sb)
		c.kill(sb.ID)
	}
	out := c.sh(t, bystander, "cat /kept", 30)
	fault(t, "disk pool full", clear && out.Stdout == "before\n", r, out)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	checkNoLeaks(t, "pool full", p.dataDir, prefix, base)
	sb := c.create(t, nil)
	if got := c.mustSh(t, sb, "echo ok"); !strings.HasPrefix(got, "ok") {
		t.Fatalf("create after freeing the pool: %q", got)
	}
}

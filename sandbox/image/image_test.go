package image

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("image tests need root (lchown to the shifted ID range, loop mounts); run them as root")
	}
}

func owner(t *testing.T, path string) (uint32, uint32, uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Uid, st.Gid, st.Mode
}

func TestShiftOwnership(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(root, "file"), []byte("x"), 0o644))
	must(os.Mkdir(filepath.Join(root, "home"), 0o755))
	must(os.Lchown(filepath.Join(root, "home"), 1000, 1000))
	must(os.WriteFile(filepath.Join(root, "suid"), []byte("x"), 0o755))
	must(unix.Chmod(filepath.Join(root, "suid"), 0o4755))
	must(os.Symlink("file", filepath.Join(root, "link")))
	must(os.Link(filepath.Join(root, "file"), filepath.Join(root, "hard")))
	// A v2 file capability (cap_net_bind_service, effective), as setcap writes it.
	capv2 := []byte{0x01, 0, 0, 0x02, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	capv2[0] = 0x01 // VFS_CAP_FLAGS_EFFECTIVE
	must(os.WriteFile(filepath.Join(root, "capped"), []byte("x"), 0o755))
	must(unix.Setxattr(filepath.Join(root, "capped"), capXattr, capv2, 0))

	m := DefaultIDMap()
	must(ShiftOwnership(root, m))

	for name, want := range map[string]uint32{"": 100000, "file": 100000, "home": 101000, "link": 100000, "suid": 100000} {
		uid, gid, _ := owner(t, filepath.Join(root, name))
		if uid != want || gid != want {
			t.Errorf("%q owned by %d:%d, want %d:%d", name, uid, gid, want, want)
		}
	}
	if _, _, mode := owner(t, filepath.Join(root, "suid")); mode&0o7777 != 0o4755 {
		t.Errorf("setuid file mode %o after shift, want 4755", mode&0o7777)
	}
	buf := make([]byte, 64)
	n, err := unix.Getxattr(filepath.Join(root, "capped"), capXattr, buf)
	must(err)
	if n != 24 || buf[3] != 0x03 || buf[0] != 0x01 || buf[5] != 0x04 {
		t.Errorf("capability xattr after shift = % x, want a v3 copy of the v2 caps", buf[:n])
	}
	if rootid := uint32(buf[20]) | uint32(buf[21])<<8 | uint32(buf[22])<<16 | uint32(buf[23])<<24; rootid != 100000 {
		t.Errorf("v3 capability rootid = %d, want 100000", rootid)
	}

	// A second shift finds IDs outside the map and refuses.
	if err := ShiftOwnership(root, m); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "already shifted") {
		t.Errorf("second shift: err = %v, want ErrInvalid naming 'already shifted'", err)
	}
	if err := ShiftOwnership(root, IDMap{HostUID: 0, HostGID: 1, Size: 10}); !errors.Is(err, ErrInvalid) {
		t.Errorf("root base: err = %v, want ErrInvalid", err)
	}
}

func TestBuildBusybox(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	dst := filepath.Join(dir, "busybox.img")
	const size = 64 << 20
	if err := BuildBusybox(context.Background(), dst, size, DefaultIDMap()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != size {
		t.Errorf("image size %d, want %d", fi.Size(), size)
	}
	if used := fi.Sys().(*syscall.Stat_t).Blocks * 512; used >= size/2 {
		t.Errorf("image uses %d bytes on disk of %d: not sparse", used, size)
	}
	assertOnly(t, dir, "busybox.img")

	mnt := loopMount(t, dst)
	for _, c := range []struct {
		path     string
		uid      uint32
		mode     uint32 // 0: do not check
		isLink   bool
		linkDest string
	}{
		{path: "", uid: 100000, mode: 0o755},
		{path: "bin/busybox", uid: 100000, mode: 0o755},
		{path: "bin/sh", uid: 100000, isLink: true, linkDest: "/bin/busybox"},
		{path: "usr/bin/wget", uid: 100000, isLink: true, linkDest: "/bin/busybox"},
		{path: "usr/sbin/httpd", uid: 100000, isLink: true, linkDest: "/bin/busybox"},
		{path: "tmp", uid: 100000, mode: 0o1777},
		{path: "root", uid: 100000, mode: 0o700},
		{path: "home/user", uid: 101000, mode: 0o755},
		{path: ".warren", uid: 100000, mode: 0o755},
		{path: "proc", uid: 100000}, {path: "sys", uid: 100000}, {path: "dev", uid: 100000}, {path: "run", uid: 100000},
		{path: "etc/resolv.conf", uid: 100000, mode: 0o644},
	} {
		p := filepath.Join(mnt, c.path)
		uid, gid, mode := owner(t, p)
		if uid != c.uid || gid != c.uid {
			t.Errorf("/%s owned by %d:%d, want %d:%d", c.path, uid, gid, c.uid, c.uid)
		}
		if c.mode != 0 && mode&0o7777 != c.mode {
			t.Errorf("/%s mode %o, want %o", c.path, mode&0o7777, c.mode)
		}
		if c.isLink {
			if dest, err := os.Readlink(p); err != nil || dest != c.linkDest {
				t.Errorf("/%s -> %q (%v), want -> %s", c.path, dest, err, c.linkDest)
			}
		}
	}
	for _, f := range []string{"etc/passwd", "etc/group"} {
		b, err := os.ReadFile(filepath.Join(mnt, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"root:x:0:", "user:x:1000:", "65534"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("/%s lacks %q:\n%s", f, want, b)
			}
		}
	}
}

func TestBuildBusyboxBadInput(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	ctx := context.Background()
	exists := filepath.Join(dir, "exists.img")
	if err := os.WriteFile(exists, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		dst  string
		size int64
		m    IDMap
		want error
		in   string
	}{
		"empty dst":  {"", 64 << 20, DefaultIDMap(), ErrInvalid, "dst"},
		"tiny":       {filepath.Join(dir, "a.img"), 1 << 20, DefaultIDMap(), ErrInvalid, "sizeBytes"},
		"unaligned":  {filepath.Join(dir, "a.img"), 64<<20 + 1, DefaultIDMap(), ErrInvalid, "sizeBytes"},
		"zero map":   {filepath.Join(dir, "a.img"), 64 << 20, IDMap{}, ErrInvalid, "size"},
		"dst exists": {exists, 64 << 20, DefaultIDMap(), ErrExists, exists},
	} {
		err := BuildBusybox(ctx, c.dst, c.size, c.m)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.in) {
			t.Errorf("%s: err = %v, want %v mentioning %q", name, err, c.want, c.in)
		}
	}
	// mkfs fails half-way (image too small for the tree): nothing is left behind.
	old := BusyboxPath
	t.Cleanup(func() { BusyboxPath = old })
	if err := os.Mkdir(filepath.Join(dir, "pad"), 0o755); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "pad", "busybox")
	f, err := os.OpenFile(big, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	// A static ELF is required: copy the real busybox and pad it past the image size.
	src, _ := os.ReadFile(old)
	f.Write(src)
	pad := make([]byte, 20<<20)
	rand.Read(pad) // incompressible: mkfs skips zero blocks
	f.Write(pad)
	f.Close()
	BusyboxPath = big
	err = BuildBusybox(ctx, filepath.Join(dir, "small.img"), 16<<20, DefaultIDMap())
	if err == nil || !strings.Contains(err.Error(), "mkfs.ext4") {
		t.Errorf("oversized tree: err = %v, want a mkfs.ext4 failure", err)
	}
	assertOnly(t, dir, "exists.img", "pad")

	BusyboxPath = "/nonexistent/busybox"
	if err := BuildBusybox(ctx, filepath.Join(dir, "b.img"), 64<<20, DefaultIDMap()); err == nil || !strings.Contains(err.Error(), "busybox-static") {
		t.Errorf("missing busybox: err = %v, want a hint to install busybox-static", err)
	}
}

// assertOnly fails unless dir holds exactly names (no temp trees or files left).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	sort.Strings(names)
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %v, want exactly %v", dir, got, names)
	}
}

// loopMount mounts img read-only on a temp dir for the test's duration.
func loopMount(t *testing.T, img string) string {
	t.Helper()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-o", "loop,ro", img, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount -o loop %s: %v: %s", img, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

func TestAptMirror(t *testing.T) {
	got, err := aptMirror("testdata/apt")
	if err != nil || got != "http://mirror.example/debian" {
		t.Errorf("aptMirror(testdata) = %q, %v; want the enabled deb822 main-suite URI", got, err)
	}
	if _, err := aptMirror(t.TempDir()); !errors.Is(err, ErrNotFound) {
		t.Errorf("aptMirror(empty) err = %v, want ErrNotFound", err)
	}
	if got := mirrorFromOneLine("deb [trusted=yes] file:///srv/mirror bookworm main\n"); got != "file:///srv/mirror" {
		t.Errorf("one-line with options = %q", got)
	}
	// This machine's own configuration must yield a URL (the Debian template needs it).
	m, err := AptMirror()
	if err != nil || !strings.Contains(m, "://") {
		t.Errorf("AptMirror() = %q, %v; want a URL from /etc/apt", m, err)
	}
}

func TestBuildDebian(t *testing.T) {
	if os.Getenv("WARREN_TEST_DEBOOTSTRAP") != "1" {
		t.Skip("debootstrap takes minutes; set WARREN_TEST_DEBOOTSTRAP=1 to run it")
	}
	requireRoot(t)
	mirror, err := AptMirror()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dst := filepath.Join(dir, "debian.img")
	if err := BuildDebian(context.Background(), dst, 2<<30, DefaultIDMap(), mirror); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, dir, "debian.img")
	mnt := loopMount(t, dst)
	for path, want := range map[string]uint32{"": 100000, "usr/bin/apt-get": 100000, "home/user": 101000, ".warren": 100000} {
		if uid, _, _ := owner(t, filepath.Join(mnt, path)); uid != want {
			t.Errorf("/%s owned by %d, want %d", path, uid, want)
		}
	}
	// /etc/shadow is root:shadow (gid 42) in Debian: the gid shifts too.
	if _, gid, _ := owner(t, filepath.Join(mnt, "etc/shadow")); gid != 100042 {
		t.Errorf("/etc/shadow gid %d, want 100042", gid)
	}
}

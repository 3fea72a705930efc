package sandbox

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestHostNameservers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(p, []byte("# c\nnameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch x\nnameserver ::1\nnameserver 198.51.100.7\n"), 0o644)
	if got := hostNameservers(p); !reflect.DeepEqual(got, []string{"192.0.2.1", "198.51.100.7"}) {
		t.Fatalf("got %v", got)
	}
}

// A template whose /etc/resolv.conf or /etc is a symlink pointing out of the
// rootfs must not make the node write there.
func TestWriteResolvConfStaysInRoot(t *testing.T) {
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)

	rootA := t.TempDir()
	os.Mkdir(filepath.Join(rootA, "etc"), 0o755)
	os.Symlink(victim, filepath.Join(rootA, "etc", "resolv.conf"))
	if err := writeResolvConf(rootA, []string{"192.0.2.1"}, os.Getuid()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(rootA, "etc", "resolv.conf"))
	if string(b) == "keep" || len(b) == 0 {
		t.Fatalf("resolv.conf not replaced: %q", b)
	}

	rootB := t.TempDir()
	os.Symlink(outside, filepath.Join(rootB, "etc"))
	if err := writeResolvConf(rootB, []string{"192.0.2.1"}, os.Getuid()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "resolv.conf")); err == nil {
		t.Fatal("wrote through an /etc symlink to outside the rootfs")
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatalf("victim changed: %q", b)
	}
}
